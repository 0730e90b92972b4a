"""How a lane's admission webhook treats changes to it (the Lane document's `admission`
mapping): its keys, and their validation. The same function serves `Lane.clean`,
`drift apply`, the API and the lane form; alignment.admission.decide reads it.

    admission:
      mode: deny                 # off (the default), warn, or deny
      breakGlassGroups:          # their members may still change the lane's Git-managed
        - sre-oncall             # objects: allowed, audited, raised as lane.break-glass
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drift.engine.rules import Problem

MODES = ("off", "warn", "deny")
# Off by default: a lane prevents nothing until someone chooses to.
DEFAULT_MODE = "off"
KEYS = ("mode", "breakGlassGroups")


def mode(terms: Any) -> str:
    """The lane's mode; anything but a known one reads as off (the webhook fails open)."""
    found = terms.get("mode", DEFAULT_MODE) if isinstance(terms, Mapping) else DEFAULT_MODE
    return found if found in MODES else DEFAULT_MODE


def problems(value: Any, path: str) -> list[Problem]:
    """Every problem of an `admission` mapping, each under its own path (`path.key[i]`)."""
    if not isinstance(value, dict):
        return [Problem(path, "must be a mapping: mode, breakGlassGroups")]
    found: list[Problem] = []
    for key in sorted(set(value) - set(KEYS), key=str):
        found.append(Problem(f"{path}.{key}", f"unknown key; expected one of {', '.join(KEYS)}"))
    if "mode" in value and value["mode"] not in MODES:
        found.append(Problem(f"{path}.mode", f"must be one of {', '.join(MODES)}"))
    if "breakGlassGroups" in value:
        found += _groups(value["breakGlassGroups"], f"{path}.breakGlassGroups")
    return found


def _groups(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, list):
        return [Problem(path, "must be a list of group names, like sre-oncall")]
    found: list[Problem] = []
    seen: set[str] = set()
    for index, group in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(group, str) or not group.strip():
            found.append(Problem(where, "must be a group name (a non-empty string)"))
        elif group != group.strip():
            # The API server compares group names exactly: a stray space never matches.
            found.append(Problem(where, f"{group!r} has spaces around it"))
        elif group in seen:
            found.append(Problem(where, f"{group} is listed twice"))
        else:
            seen.add(group)
    return found
