"""DriftPolicy documents, read block by block: which clusters, which objects on them
(scope), how drift is detected, which differences are ignored or how severe they are, and
what remediation may do (its change windows and its guard against flapping)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from drift.declarative.reading import Planned, Reader
from drift.engine import rules, windows
from drift.engine.rules import Problem
from drift.models.choices import AutoRemediation, PolicyMode, RemediationStrategy, UndeclaredFields
from drift.models.policies import default_approvals

FIELDS = (
    "source",
    "clusters",
    "namespace",
    "namespaces",
    "kinds",
    "objectSelector",
    "interval",
    "syncGracePeriod",
    "mode",
    "detectUnmanaged",
    "undeclaredFields",
    "trustedManagers",
    "gitopsManagers",
    "ignore",
    "severity",
    "remediation",
    "enabled",
    "description",
)
REMEDIATION_FIELDS = (
    "strategy",
    "autoRemediateUpTo",
    "approvals",
    "prune",
    "changeWindows",
    "expiry",
    "rollbackOnFailedVerification",
    "flapping",
)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def read(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(FIELDS)
    values: dict[str, Any] = {
        "description": reader.get("description", str, ""),
        "enabled": reader.get("enabled", bool, True),
        **_clusters(reader),
        **_scope(reader),
        **_detection(reader),
        **_rules(reader),
        **_remediation(reader),
    }
    source = reader.get("source", str, "")
    if not source:
        reader.problem("spec.source", "is required: the name of a GitSource")
    return Planned("DriftPolicy", name, values | {"source": source})


def _clusters(reader: Reader) -> dict[str, Any]:
    """`spec.clusters`: names, a label selector, or both."""
    clusters = reader.get("clusters", dict, {})
    for key in sorted(set(clusters) - {"names", "selector"}):
        reader.problem(f"spec.clusters.{key}", "unknown field; expected names, selector")
    names = clusters.get("names", [])
    found: list[Problem] = []
    rules.string_list(names, "spec.clusters.names", found)
    reader.checked(found)
    selector = clusters.get("selector", {})
    reader.checked(rules.label_selector(selector, "spec.clusters.selector"))
    if not names and not selector:
        reader.problem("spec.clusters", "name clusters (names) or select them (selector)")
    return {
        "cluster_names": list(names) if isinstance(names, list) else [],
        "cluster_selector": selector if isinstance(selector, dict) else {},
    }


def _scope(reader: Reader) -> dict[str, Any]:
    """Which objects of a cluster the policy compares."""
    default_namespace = reader.get("namespace", str, "default") or "default"
    namespaces = reader.get("namespaces", dict, {"include": [], "exclude": []})
    kinds = reader.get("kinds", dict, {"include": [], "exclude": []})
    object_selector = reader.get("objectSelector", dict, {})
    reader.checked(rules.include_exclude(namespaces, "spec.namespaces"))
    reader.checked(rules.include_exclude(kinds, "spec.kinds"))
    reader.checked(rules.label_selector(object_selector, "spec.objectSelector"))
    return {
        "default_namespace": default_namespace,
        "namespaces": namespaces,
        "kinds": kinds,
        "object_selector": object_selector,
    }


def _detection(reader: Reader) -> dict[str, Any]:
    """How often and how strictly live objects are compared with Git."""
    interval = reader.spec.get("interval", 120)
    # How long live objects may run an older revision than Git's head (sync.lagging): a
    # GitOps tool polls every few minutes and rolls out in a few more.
    grace = reader.spec.get("syncGracePeriod", "10m")
    return {
        "interval_seconds": _seconds(reader, interval, "spec.interval", 120, minimum=10),
        "sync_grace_seconds": _seconds(reader, grace, "spec.syncGracePeriod", 600, minimum=60),
        "mode": reader.choice("mode", PolicyMode.values, PolicyMode.DETECT_ONLY),
        "detect_unmanaged": reader.get("detectUnmanaged", bool, False),
        "undeclared_fields": reader.choice(
            "undeclaredFields", UndeclaredFields.values, UndeclaredFields.IGNORE
        ),
        "trusted_managers": reader.strings("trustedManagers"),
        "gitops_managers": reader.strings("gitopsManagers"),
    }


def _rules(reader: Reader) -> dict[str, Any]:
    """Differences to ignore, and how severe the others are."""
    ignore = reader.get("ignore", list, [])
    severity = reader.get("severity", list, [])
    reader.checked(rules.ignore_rules(ignore, "spec.ignore"))
    reader.checked(rules.severity_rules(severity, "spec.severity"))
    return {"ignore_rules": ignore, "severity_rules": severity}


def _remediation(reader: Reader) -> dict[str, Any]:
    """`spec.remediation`: how drift is put right, who approves it, and when."""
    remediation = reader.get("remediation", dict, {})
    for key in sorted(set(remediation) - set(REMEDIATION_FIELDS)):
        reader.problem(
            f"spec.remediation.{key}",
            f"unknown field; expected {', '.join(sorted(REMEDIATION_FIELDS))}",
        )
    expiry = remediation.get("expiry", "24h")
    return {
        "strategy": _nested_choice(
            reader, remediation, "strategy", RemediationStrategy.values, RemediationStrategy.SYNC
        ),
        "auto_remediate_up_to": _nested_choice(
            reader, remediation, "autoRemediateUpTo", AutoRemediation.values, AutoRemediation.NONE
        ),
        "approvals": _approvals(reader, remediation),
        "prune": _boolean(reader, remediation, "prune"),
        "change_windows": _change_windows(reader, remediation),
        "request_expiry_seconds": _seconds(
            reader, expiry, "spec.remediation.expiry", 86400, minimum=60
        ),
        "rollback_on_failed_verification": _boolean(
            reader, remediation, "rollbackOnFailedVerification", default=True
        ),
        **_flapping(reader, remediation),
    }


def _approvals(reader: Reader, remediation: dict[str, Any]) -> dict[str, Any]:
    """Approvers needed per severity; a severity not named keeps its default."""
    reader.checked(rules.approvals(remediation.get("approvals", {}), "spec.remediation.approvals"))
    given = remediation.get("approvals") or {}
    return {**default_approvals(), **(given if isinstance(given, dict) else {})}


def _change_windows(reader: Reader, remediation: dict[str, Any]) -> list[Any]:
    change_windows = remediation.get("changeWindows", [])
    reader.checked(windows.problems(change_windows, "spec.remediation.changeWindows"))
    return change_windows if isinstance(change_windows, list) else []


def _flapping(reader: Reader, remediation: dict[str, Any]) -> dict[str, int]:
    """Drift that comes back `count` times within `window` stops auto-remediation."""
    flapping = remediation.get("flapping", {})
    if not isinstance(flapping, dict) or set(flapping) - {"count", "window"}:
        reader.problem("spec.remediation.flapping", "must be a mapping with count and window")
        flapping = {}
    count = flapping.get("count", 3)
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        reader.problem("spec.remediation.flapping.count", "must be a whole number, 2 or more")
        count = 3
    window = flapping.get("window", "1h")
    return {
        "flap_count": count,
        "flap_window_seconds": _seconds(
            reader, window, "spec.remediation.flapping.window", 3600, minimum=60
        ),
    }


def _boolean(reader: Reader, remediation: dict[str, Any], name: str, default: bool = False) -> bool:
    value = remediation.get(name, default)
    if not isinstance(value, bool):
        reader.problem(f"spec.remediation.{name}", "must be true or false")
        return False
    return value


def _nested_choice(
    reader: Reader, remediation: dict[str, Any], name: str, choices: list[str], default: str
) -> str:
    value = remediation.get(name, default)
    if value not in choices:
        reader.problem(f"spec.remediation.{name}", f"must be one of {', '.join(choices)}")
        return default
    return str(value)


def _seconds(reader: Reader, value: Any, path: str, default: int, minimum: int) -> int:
    """A duration given as seconds or as text like 90s, 2m, 1h30m, 24h."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value and (match := _DURATION.match(value)):
        hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds is None or seconds < minimum:
        reader.problem(path, f"must be a duration of at least {minimum}s, like 90s, 2m or 1h")
        return default
    return seconds
