"""axe-core, the accessibility checker, run inside a page of a browser test.

`scripts/browser ensure` (run by `make services` and `make test`) fetches the version pinned
there with npm into a cache outside the clone; this module finds it through the same pin.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SETUP = Path(__file__).resolve().parents[2] / "scripts/browser"
# What the dashboard must never have; "moderate" and "minor" are reported by axe but
# judged case by case.
BLOCKING = ("serious", "critical")


def axe_script() -> Path:
    """axe.min.js in the set-up cache; fails the test, naming the command, when missing."""
    version = re.search(r"^AXE_VERSION=(\S+)$", SETUP.read_text(), re.MULTILINE)
    assert version, f"{SETUP} pins no AXE_VERSION"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    script = base / "driftcontrol" / f"axe-core-{version[1]}" / "axe.min.js"
    if not script.is_file():
        pytest.fail(f"{script} is missing: run `scripts/browser ensure`", pytrace=False)
    return script


@cache
def _source(script: Path) -> str:
    return script.read_text()


def blocking_violations(page: Any) -> list[str]:
    """axe's serious and critical findings on the page as it is now, one line per node."""
    # Not page.add_script_tag: it inserts an inline <script>, which our
    # Content-Security-Policy refuses. Evaluating the source through the DevTools protocol
    # runs it in the page without asking the policy.
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(_source(axe_script()))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations"""
    )
    lines = []
    for violation in violations:
        if violation["impact"] not in BLOCKING:
            continue
        lines.append(f"{violation['impact']} {violation['id']}: {violation['help']}")
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"    {target}: {node['failureSummary']}".replace("\n", " "))
    return lines
