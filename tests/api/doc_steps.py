"""Reads the executable parts of docs/integrations.md: shell steps marked
`<!-- step: NAME [capture: VAR=field] -->` and the Python block marked `<!-- verify -->`.
The walkthrough test runs exactly these, so the document cannot drift from the product."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
_STEP = re.compile(
    r"<!-- step: (?P<name>[\w-]+)(?: capture: (?P<capture>[^>]*?))? -->\s*```sh\n(?P<code>.*?)```",
    re.S,
)
_VERIFY = re.compile(r"<!-- verify -->\s*```python\n(?P<code>.*?)```", re.S)


@dataclass
class Step:
    name: str
    code: str
    captures: dict[str, str] = field(default_factory=dict)  # VAR -> JSON field of stdout


def steps(text: str | None = None) -> dict[str, Step]:
    text = DOC.read_text() if text is None else text
    found = {}
    for match in _STEP.finditer(text):
        captures = dict(
            item.split("=", 1) for item in (match["capture"] or "").split() if "=" in item
        )
        found[match["name"]] = Step(match["name"], match["code"], captures)
    return found


def verify_function(text: str | None = None) -> Any:
    text = DOC.read_text() if text is None else text
    match = _VERIFY.search(text)
    assert match, "docs/integrations.md has no <!-- verify --> Python block"
    namespace: dict[str, Any] = {}
    exec(compile(match["code"], "docs/integrations.md#verify", "exec"), namespace)
    return namespace["verify"]


def run(step: Step, env: dict[str, str], cwd: Path) -> tuple[Any, dict[str, str]]:
    """Run a step with bash (errexit, pipefail); its JSON output and the variables it set
    (plus its captures) merged into ``env``."""
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
    output = json.loads(done.stdout) if done.stdout.strip() else None
    merged = {**env, **{k: v for k, v in variables.items() if k not in os.environ}}
    for variable, key in step.captures.items():
        merged[variable] = str(output[key])
    return output, merged
