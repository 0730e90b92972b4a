"""Reads the executable parts of docs/integrations.md: shell steps marked
`<!-- step: NAME [background] [capture: VAR=field] -->` and the Python block marked
`<!-- verify -->`. The walkthrough test runs exactly these, so the document cannot drift
from the product. A `background` step is one the reader leaves running in another
terminal (a webhook receiver)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
_STEP = re.compile(
    r"<!-- step: (?P<name>[\w-]+)(?P<background> background)?(?: capture: (?P<capture>[^>]*?))? -->"
    r"\s*```sh\n(?P<code>.*?)```",
    re.S,
)
_VERIFY = re.compile(r"<!-- verify -->\s*```python\n(?P<code>.*?)```", re.S)


@dataclass
class Step:
    name: str
    code: str
    captures: dict[str, str] = field(default_factory=dict)  # VAR -> JSON field of stdout
    background: bool = False


def steps(text: str | None = None) -> dict[str, Step]:
    text = DOC.read_text() if text is None else text
    found = {}
    for match in _STEP.finditer(text):
        captures = dict(
            item.split("=", 1) for item in (match["capture"] or "").split() if "=" in item
        )
        found[match["name"]] = Step(
            match["name"], match["code"], captures, background=bool(match["background"])
        )
    return found


def verify_function(text: str | None = None) -> Any:
    text = DOC.read_text() if text is None else text
    match = _VERIFY.search(text)
    assert match, "docs/integrations.md has no <!-- verify --> Python block"
    namespace: dict[str, Any] = {}
    exec(compile(match["code"], "docs/integrations.md#verify", "exec"), namespace)
    return namespace["verify"]


_BASH_OWN = {"_", "SHLVL", "PWD", "OLDPWD"}


def start(step: Step, env: dict[str, str], cwd: Path, output: Path) -> subprocess.Popen[bytes]:
    """Start a background step as the reader would in another terminal: its standard output
    goes to ``output``, its standard error next to it (``.err``). It runs in a session of
    its own: stop() ends it and its children."""
    assert step.background, f"step {step.name} is not a background step"
    with output.open("wb") as stdout, output.with_suffix(".err").open("wb") as stderr:
        return subprocess.Popen(
            ["bash", "-c", f"set -euo pipefail\n{step.code}"],
            env=env,
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run(step: Step, env: dict[str, str], cwd: Path) -> tuple[Any, dict[str, str]]:
    """Run a step with bash (errexit, pipefail); its output (parsed when it is JSON) and
    the shell's environment after it, with its captures."""
    with tempfile.NamedTemporaryFile("r", suffix=".env") as exported:
        # allexport: what a step assigns (TOKEN=$(...)) is seen by the steps after it.
        script = f"set -euo pipefail -o allexport\n{step.code}\nenv -0 > {exported.name}\n"
        done = subprocess.run(
            ["bash", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (
            f"step {step.name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
        variables = dict(item.split("=", 1) for item in exported.read().split("\0") if "=" in item)
    try:
        output = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        output = done.stdout  # a command that does not answer JSON (kubectl)
    # The shell's environment after the step, as the reader's shell has it for the next one
    # (a `. .venv/bin/activate` changes PATH); minus what bash keeps for itself.
    merged = {k: v for k, v in variables.items() if k not in _BASH_OWN}
    for variable, key in step.captures.items():
        merged[variable] = str(output[key])
    return output, merged
