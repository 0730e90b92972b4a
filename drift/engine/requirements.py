"""What a lane may require of its namespaces (the Lane document's `requires` mapping):
its keys, and their validation. The same function serves `Lane.clean`, `drift apply`, the
API and the lane form; alignment.rules.requires judges the cluster against it.

    requires:
      podSecurity: restricted          # Pod Security admission `enforce` label, at least
      defaultDenyNetworkPolicy: true   # a NetworkPolicy denying all ingress to every pod
      resourceQuota: true
      limitRange: true
      kyvernoPolicies: [require-labels, shop/disallow-latest]   # ClusterPolicy, ns/Policy
      gatekeeperConstraints: [K8sRequiredLabels/owner-label]      # Kind/name
      noWildcardRoles: true            # no "*" verbs or resources in its Roles
      noClusterAdmin: true             # cluster-admin never bound to its deployers
"""

from __future__ import annotations

import re
from typing import Any

from drift.engine.rules import Problem

# Pod Security Standards, least to most restrictive.
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")
FLAGS = (
    "defaultDenyNetworkPolicy",
    "resourceQuota",
    "limitRange",
    "noWildcardRoles",
    "noClusterAdmin",
)
LISTS = ("kyvernoPolicies", "gatekeeperConstraints")
KEYS = ("podSecurity", *FLAGS, *LISTS)

_NAME = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
KYVERNO_NAME = re.compile(rf"^({_NAME}/)?{_NAME}$")
CONSTRAINT_NAME = re.compile(rf"^[A-Z][A-Za-z0-9]*/{_NAME}$")
_FORMATS = {
    "kyvernoPolicies": (
        KYVERNO_NAME,
        "name a ClusterPolicy (require-labels) or a namespace's Policy (shop/require-labels)",
    ),
    "gatekeeperConstraints": (
        CONSTRAINT_NAME,
        "name a constraint as Kind/name (K8sRequiredLabels/owner-label)",
    ),
}


def problems(value: Any, path: str) -> list[Problem]:
    """Every problem of a `requires` mapping, each under its own path (`path.key[i]`)."""
    if not isinstance(value, dict):
        return [Problem(path, "must be a mapping")]
    found: list[Problem] = []
    for key in sorted(set(value) - set(KEYS)):
        found.append(Problem(f"{path}.{key}", f"unknown key; expected one of {', '.join(KEYS)}"))
    if "podSecurity" in value and value["podSecurity"] not in POD_SECURITY_LEVELS:
        found.append(
            Problem(f"{path}.podSecurity", f"must be one of {', '.join(POD_SECURITY_LEVELS)}")
        )
    for key in FLAGS:
        if key in value and not isinstance(value[key], bool):
            found.append(Problem(f"{path}.{key}", "must be true or false"))
    for key in LISTS:
        if key in value:
            found += _names(value[key], f"{path}.{key}", *_FORMATS[key])
    return found


def _names(value: Any, path: str, pattern: re.Pattern[str], hint: str) -> list[Problem]:
    if not isinstance(value, list):
        return [Problem(path, "must be a list of strings")]
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not pattern.match(item):
            found.append(Problem(f"{path}[{index}]", f"{item!r}: {hint}"))
        elif item in value[:index]:
            found.append(Problem(f"{path}[{index}]", f"{item} is listed twice"))
    return found


def level_at_least(level: str, required: str) -> bool:
    """Whether Pod Security level ``level`` is ``required`` or stricter."""
    known = POD_SECURITY_LEVELS
    return level in known and required in known and known.index(level) >= known.index(required)


def combined(requirements: list[dict[str, Any]]) -> dict[str, Any]:
    """What several lanes claiming one namespace require of it together: the strictest
    level, every flag any sets, every policy any names."""
    out: dict[str, Any] = {}
    for requires in requirements:
        level = requires.get("podSecurity")
        if level in POD_SECURITY_LEVELS and not level_at_least(out.get("podSecurity", ""), level):
            out["podSecurity"] = level
        for key in FLAGS:
            if requires.get(key) is True:
                out[key] = True
        for key in LISTS:
            names = [n for n in requires.get(key) or [] if isinstance(n, str)]
            if names:
                out[key] = [*out.get(key, []), *(n for n in names if n not in out.get(key, []))]
    return out
