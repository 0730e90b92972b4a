"""Validation of a drift policy's rule documents (ignore, severity, approvals, scope).

Each validator returns every problem it finds, with the path to the bad value, so that a
user fixing a policy sees all of them at once. The same functions serve the model's
`clean`, `drift apply` and the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from drift.engine.severity import LEVELS


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


SELECTOR_KEYS = ("groups", "kinds", "namespaces", "names")
_POINTER = re.compile(r"^(/([^~/]|~[01])*)*$")
MAX_APPROVERS = 10


def string_list(value: Any, path: str, problems: list[Problem]) -> None:
    if not isinstance(value, list):
        problems.append(Problem(path, "must be a list of strings"))
        return
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            problems.append(Problem(f"{path}[{index}]", "must be a non-empty string"))


def _pointers(value: Any, path: str, problems: list[Problem]) -> None:
    string_list(value, path, problems)
    for index, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, str) and item and not _POINTER.match(item):
            problems.append(
                Problem(
                    f"{path}[{index}]",
                    f"{item!r} is not a JSON pointer: it starts with '/', and '~' is written "
                    "'~0' and '/' inside a key '~1' (use '*' for any list item or key)",
                )
            )


def _rule_list(
    value: Any, path: str, extra: dict[str, Any], narrowing: tuple[str, ...] = ()
) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(value, list):
        return [Problem(path, "must be a list of rules")]
    allowed = set(SELECTOR_KEYS) | {"paths"} | set(extra)
    for index, rule in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(rule, dict):
            problems.append(Problem(where, "must be a mapping"))
            continue
        for key in sorted(set(rule) - allowed):
            problems.append(
                Problem(f"{where}.{key}", f"unknown field; expected {', '.join(sorted(allowed))}")
            )
        for key in SELECTOR_KEYS:
            if key in rule:
                string_list(rule[key], f"{where}.{key}", problems)
        if "paths" in rule:
            _pointers(rule["paths"], f"{where}.paths", problems)
        for key, check in extra.items():
            problems.extend(check(rule.get(key), f"{where}.{key}"))
        if not set(rule) & (set(SELECTOR_KEYS) | {"paths"} | set(narrowing)):
            problems.append(Problem(where, "matches everything; name kinds, names or paths"))
    return problems


def _level(value: Any, path: str) -> list[Problem]:
    if value not in LEVELS:
        return [Problem(path, f"must be one of {', '.join(LEVELS)}")]
    return []


def ignore_rules(value: Any, path: str = "ignore") -> list[Problem]:
    """Rules that drop paths (or whole objects, when no paths are named) from comparison."""
    return _rule_list(value, path, {})


def severity_rules(value: Any, path: str = "severity") -> list[Problem]:
    """Ordered rules mapping (kind, path pattern) to a level; the first match wins. A rule
    naming `rules` (alignment rule ids, globs) ranks those alignment findings instead."""
    return _rule_list(value, path, {"level": _level, "rules": _rule_ids}, ("rules",))


def _rule_ids(value: Any, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if value is not None:
        string_list(value, path, problems)
    return problems


def approvals(value: Any, path: str = "approvals") -> list[Problem]:
    """Approvers needed per severity: 0 means no approval (auto)."""
    if not isinstance(value, dict):
        return [Problem(path, "must map severities to a number of approvers")]
    problems = []
    for key, count in value.items():
        if key not in LEVELS:
            problems.append(Problem(f"{path}.{key}", f"unknown severity; use {', '.join(LEVELS)}"))
        elif (
            isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_APPROVERS
        ):
            problems.append(
                Problem(f"{path}.{key}", f"must be a whole number from 0 to {MAX_APPROVERS}")
            )
    return problems


def include_exclude(value: Any, path: str) -> list[Problem]:
    """A scope filter: {include: [globs], exclude: [globs]}; an empty include means all."""
    if not isinstance(value, dict):
        return [Problem(path, "must be a mapping with 'include' and/or 'exclude' lists")]
    problems: list[Problem] = []
    for key in sorted(set(value) - {"include", "exclude"}):
        problems.append(Problem(f"{path}.{key}", "unknown field; expected include, exclude"))
    for key in ("include", "exclude"):
        if key in value:
            string_list(value[key], f"{path}.{key}", problems)
    return problems


_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def label_selector(value: Any, path: str = "selector") -> list[Problem]:
    """A Kubernetes-style label selector: matchLabels and matchExpressions."""
    if not isinstance(value, dict):
        return [Problem(path, "must be a mapping with matchLabels and/or matchExpressions")]
    problems: list[Problem] = []
    for key in sorted(set(value) - {"matchLabels", "matchExpressions"}):
        problems.append(
            Problem(f"{path}.{key}", "unknown field; expected matchLabels, matchExpressions")
        )
    labels = value.get("matchLabels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        problems.append(Problem(f"{path}.matchLabels", "must map label names to strings"))
    expressions = value.get("matchExpressions", [])
    if not isinstance(expressions, list):
        return problems + [Problem(f"{path}.matchExpressions", "must be a list")]
    for index, expression in enumerate(expressions):
        where = f"{path}.matchExpressions[{index}]"
        if not isinstance(expression, dict) or not isinstance(expression.get("key"), str):
            problems.append(Problem(where, "needs a 'key' and an 'operator'"))
            continue
        operator, values = expression.get("operator"), expression.get("values", [])
        if operator not in _OPERATORS:
            problems.append(Problem(f"{where}.operator", f"must be one of {', '.join(_OPERATORS)}"))
        elif operator in ("In", "NotIn") and not values:
            problems.append(Problem(f"{where}.values", f"{operator} needs at least one value"))
        elif operator in ("Exists", "DoesNotExist") and values:
            problems.append(Problem(f"{where}.values", f"{operator} takes no values"))
        string_list(values, f"{where}.values", problems)
    return problems


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether ``labels`` satisfy a (valid) label selector; an empty selector matches all."""
    for key, wanted in selector.get("matchLabels", {}).items():
        if labels.get(key) != wanted:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        present = key in labels
        if (
            operator == "In"
            and labels.get(key) not in values
            or operator == "NotIn"
            and present
            and labels[key] in values
            or operator == "Exists"
            and not present
            or operator == "DoesNotExist"
            and present
        ):
            return False
    return True
