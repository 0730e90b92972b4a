"""Reading configuration documents (apiVersion driftcontrol.io/v1alpha1): each kind's
fields, checked one by one, every problem named with its `documents[i].field.path`.

`declarative` runs these readers over a batch and applies what they planned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift import kube
from drift.engine import rules, windows
from drift.engine.rules import Problem
from drift.models import Cluster
from drift.models.choices import AutoRemediation, PolicyMode, RemediationStrategy, UndeclaredFields
from drift.models.policies import default_approvals

API_VERSION = "driftcontrol.io/v1alpha1"
KINDS = ("Lane", "GitSource", "Cluster", "DriftPolicy")  # the order they are applied in
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass
class Planned:
    kind: str
    name: str
    values: dict[str, Any]
    lanes: list[str] = field(default_factory=list)
    credentials: str | None = None  # a Cluster's kubeconfig; None keeps the stored one
    credentials_given: bool = False
    hook_secret: str | None = None  # "" removes the secret, None keeps it
    index: int = 0


class Reader:
    """Reads one document's fields, collecting problems under `documents[i].<path>`."""

    def __init__(self, index: int, doc: dict[str, Any], problems: list[Problem]) -> None:
        self.index, self.doc, self.problems = index, doc, problems
        spec = doc.get("spec")
        self.spec: dict[str, Any] = spec if isinstance(spec, dict) else {}

    def where(self, path: str) -> str:
        return f"documents[{self.index}].{path}"

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.where(path), message))

    def known(self, allowed: Iterable[str]) -> None:
        for name in sorted(set(self.spec) - set(allowed)):
            self.problem(
                f"spec.{name}", f"unknown field; expected one of {', '.join(sorted(allowed))}"
            )

    def get(self, name: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.spec.get(name, default)
        if value is not default and not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            self.problem(f"spec.{name}", f"must be {_article(names)}")
            return default
        return value

    def choice(self, name: str, choices: Iterable[str], default: str) -> str:
        value = self.get(name, str, default)
        allowed = list(choices)
        if value not in allowed:
            self.problem(f"spec.{name}", f"must be one of {', '.join(allowed)}")
            return default
        return str(value)

    def strings(self, name: str) -> list[str]:
        value = self.get(name, list, [])
        found: list[Problem] = []
        rules.string_list(value, self.where(f"spec.{name}"), found)
        self.problems.extend(found)
        return list(value) if not found else []

    def checked(self, problems: list[Problem]) -> None:
        self.problems.extend(Problem(self.where(p.path), p.message) for p in problems)


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _lane(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(["namespaces", "identities", "branches", "description"])
    return Planned(
        "Lane",
        name,
        {
            "namespaces": reader.strings("namespaces"),
            "identities": reader.strings("identities"),
            "branches": reader.strings("branches"),
            "description": reader.get("description", str, ""),
        },
    )


def _source(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(["url", "ref", "path", "hookSecret"])
    url = reader.get("url", str, "")
    if not url:
        reader.problem("spec.url", "is required: a clone URL or a local repository path")
    secret = reader.get("hookSecret", str, None)
    return Planned(
        "GitSource",
        name,
        {
            "url": url,
            "ref": reader.get("ref", str, "main") or "main",
            "path": str(reader.get("path", str, "")).strip("/"),
        },
        hook_secret=secret,
    )


def _cluster(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(["kubeconfig", "context", "lanes", "enabled"])
    labels = (reader.doc.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        reader.problem("metadata.labels", "must map label names to strings")
        labels = {}
    context = reader.get("context", str, "")
    given = reader.get("kubeconfig", str, None)
    credentials, server = None, ""
    if given is not None:
        credentials = _kubeconfig_content(reader, given, base)
    else:
        # A changed context must still work with the kubeconfig stored before.
        stored = Cluster.objects.filter(name=name).first()
        if stored is not None and stored.has_credentials:
            credentials = stored.read_credentials()
    if credentials is not None:
        try:
            server = kube.Kube(credentials, context or None).server
        except kube.KubeError as error:
            reader.problem("spec.kubeconfig" if given is not None else "spec.context", str(error))
    values: dict[str, Any] = {
        "labels": labels,
        "context": context,
        "enabled": reader.get("enabled", bool, True),
    }
    if server:
        values["api_server_url"] = server
    return Planned(
        "Cluster",
        name,
        values,
        lanes=reader.strings("lanes"),
        credentials=credentials if given is not None else None,
        credentials_given=given is not None,
    )


def _kubeconfig_content(reader: Reader, given: str, base: Path | None) -> str | None:
    """`spec.kubeconfig` is the kubeconfig itself (several lines) or a path to one."""
    if "\n" in given.strip():
        return given
    path = Path(given).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        return path.read_text()
    except OSError as error:
        reader.problem("spec.kubeconfig", f"cannot read {path}: {error.strerror}")
        return None


def _policy(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(
        [
            "source",
            "clusters",
            "namespace",
            "namespaces",
            "kinds",
            "objectSelector",
            "interval",
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
        ]
    )
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
    remediation = reader.get("remediation", dict, {})
    allowed = {
        "strategy",
        "autoRemediateUpTo",
        "approvals",
        "prune",
        "changeWindows",
        "expiry",
        "rollbackOnFailedVerification",
        "flapping",
    }
    for key in sorted(set(remediation) - allowed):
        reader.problem(
            f"spec.remediation.{key}", f"unknown field; expected {', '.join(sorted(allowed))}"
        )
    flapping = remediation.get("flapping", {})
    if not isinstance(flapping, dict) or set(flapping) - {"count", "window"}:
        reader.problem("spec.remediation.flapping", "must be a mapping with count and window")
        flapping = {}
    flap_count = flapping.get("count", 3)
    if isinstance(flap_count, bool) or not isinstance(flap_count, int) or flap_count < 2:
        reader.problem("spec.remediation.flapping.count", "must be a whole number, 2 or more")
        flap_count = 3
    change_windows = remediation.get("changeWindows", [])
    reader.checked(windows.problems(change_windows, "spec.remediation.changeWindows"))
    given_approvals = remediation.get("approvals") or {}
    approvals = {
        **default_approvals(),
        **(given_approvals if isinstance(given_approvals, dict) else {}),
    }
    reader.checked(rules.approvals(remediation.get("approvals", {}), "spec.remediation.approvals"))
    values: dict[str, Any] = {
        "description": reader.get("description", str, ""),
        "enabled": reader.get("enabled", bool, True),
        "cluster_names": list(names) if isinstance(names, list) else [],
        "cluster_selector": selector if isinstance(selector, dict) else {},
        "default_namespace": reader.get("namespace", str, "default") or "default",
        "namespaces": reader.get("namespaces", dict, {"include": [], "exclude": []}),
        "kinds": reader.get("kinds", dict, {"include": [], "exclude": []}),
        "object_selector": reader.get("objectSelector", dict, {}),
        "interval_seconds": _interval(reader),
        "mode": reader.choice("mode", PolicyMode.values, PolicyMode.DETECT_ONLY),
        "detect_unmanaged": reader.get("detectUnmanaged", bool, False),
        "undeclared_fields": reader.choice(
            "undeclaredFields", UndeclaredFields.values, UndeclaredFields.IGNORE
        ),
        "trusted_managers": reader.strings("trustedManagers"),
        "gitops_managers": reader.strings("gitopsManagers"),
        "ignore_rules": reader.get("ignore", list, []),
        "severity_rules": reader.get("severity", list, []),
        "strategy": _nested_choice(
            reader, remediation, "strategy", RemediationStrategy.values, RemediationStrategy.SYNC
        ),
        "auto_remediate_up_to": _nested_choice(
            reader, remediation, "autoRemediateUpTo", AutoRemediation.values, AutoRemediation.NONE
        ),
        "approvals": approvals,
        "prune": _boolean(reader, remediation, "prune"),
        "change_windows": change_windows if isinstance(change_windows, list) else [],
        "request_expiry_seconds": _seconds(
            reader, remediation.get("expiry", "24h"), "spec.remediation.expiry", 86400, minimum=60
        ),
        "rollback_on_failed_verification": _boolean(
            reader, remediation, "rollbackOnFailedVerification", default=True
        ),
        "flap_count": flap_count,
        "flap_window_seconds": _seconds(
            reader,
            flapping.get("window", "1h"),
            "spec.remediation.flapping.window",
            3600,
            minimum=60,
        ),
    }
    reader.checked(rules.include_exclude(values["namespaces"], "spec.namespaces"))
    reader.checked(rules.include_exclude(values["kinds"], "spec.kinds"))
    reader.checked(rules.label_selector(values["object_selector"], "spec.objectSelector"))
    reader.checked(rules.ignore_rules(values["ignore_rules"], "spec.ignore"))
    reader.checked(rules.severity_rules(values["severity_rules"], "spec.severity"))
    source = reader.get("source", str, "")
    if not source:
        reader.problem("spec.source", "is required: the name of a GitSource")
    return Planned("DriftPolicy", name, values | {"source": source})


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


def _interval(reader: Reader) -> int:
    return _seconds(reader, reader.spec.get("interval", 120), "spec.interval", 120, minimum=10)


def _seconds(reader: Reader, value: Any, path: str, default: int, minimum: int) -> int:
    """A duration given as seconds or as text like 90s, 2m, 1h30m, 24h."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value and (match := _DURATION.match(value)):
        hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds is None or seconds < minimum:
        reader.problems.append(
            Problem(
                reader.where(path), f"must be a duration of at least {minimum}s, like 90s, 2m or 1h"
            )
        )
        return default
    return seconds


READERS: dict[str, Callable[[Reader, str, Path | None], Planned]] = {
    "Lane": _lane,
    "GitSource": _source,
    "Cluster": _cluster,
    "DriftPolicy": _policy,
}
