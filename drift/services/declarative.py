"""Configuration as documents: `drift apply -f` reads Lane, Cluster, GitSource and
DriftPolicy documents (apiVersion driftcontrol.io/v1alpha1), `drift export` writes them.

Applying is all-or-nothing: every document is validated first and every problem is
reported with its document index and field path; only a batch without problems is
written, in one transaction, and applying the same batch twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from drift import kube
from drift.engine import rules, windows
from drift.engine.rules import Problem
from drift.models import Cluster, DriftPolicy, GitSource, Lane
from drift.models.choices import AutoRemediation, PolicyMode, RemediationStrategy, UndeclaredFields
from drift.models.policies import default_approvals
from driftcontrol import audit
from driftcontrol.crypto import seal, unseal

API_VERSION = "driftcontrol.io/v1alpha1"
KINDS = ("Lane", "GitSource", "Cluster", "DriftPolicy")  # the order they are applied in
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class InvalidDocuments(Exception):
    """Every problem found in a batch, none of it applied."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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


class _Reader:
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


def plan(documents: list[Any], bases: list[Path | None] | None = None) -> list[Planned]:
    """Validate a batch; raise InvalidDocuments listing every problem.

    ``bases`` gives each document's directory: relative paths in it (a Cluster's
    kubeconfig) resolve against the file that names them.
    """
    problems: list[Problem] = []
    planned: list[Planned] = []
    seen: dict[tuple[str, str], int] = {}
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            problems.append(Problem(f"documents[{index}]", "must be a mapping"))
            continue
        if doc.get("apiVersion") != API_VERSION:
            problems.append(Problem(f"documents[{index}].apiVersion", f"must be {API_VERSION}"))
            continue
        kind = doc.get("kind")
        if kind not in READERS:
            problems.append(
                Problem(f"documents[{index}].kind", f"must be one of {', '.join(KINDS)}")
            )
            continue
        name = (
            (doc.get("metadata") or {}).get("name")
            if isinstance(doc.get("metadata"), dict)
            else None
        )
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(
                Problem(
                    f"documents[{index}].metadata.name",
                    "must be a lowercase DNS label (a-z, 0-9, '-')",
                )
            )
            continue
        if (kind, name) in seen:
            problems.append(
                Problem(
                    f"documents[{index}]",
                    f"{kind} {name} is already defined by documents[{seen[kind, name]}]",
                )
            )
            continue
        unknown = sorted(set(doc) - {"apiVersion", "kind", "metadata", "spec"})
        for key in unknown:
            problems.append(
                Problem(
                    f"documents[{index}].{key}",
                    "unknown field; expected apiVersion, kind, metadata, spec",
                )
            )
        spec_unreadable = "spec" in doc and not isinstance(doc["spec"], dict)
        if spec_unreadable:
            problems.append(Problem(f"documents[{index}].spec", "must be a mapping"))
        if unknown or spec_unreadable:
            continue
        seen[kind, name] = index
        reader = _Reader(index, doc, problems)
        item = READERS[kind](reader, name, bases[index] if bases else None)
        item.index = index
        problems += _model_problems(item)
        planned.append(item)
    _check_references(planned, seen, problems)
    if problems:
        raise InvalidDocuments(problems)
    return sorted(planned, key=lambda p: KINDS.index(p.kind))


def _lane(reader: _Reader, name: str, base: Path | None) -> Planned:
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


def _source(reader: _Reader, name: str, base: Path | None) -> Planned:
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


def _cluster(reader: _Reader, name: str, base: Path | None) -> Planned:
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


def _kubeconfig_content(reader: _Reader, given: str, base: Path | None) -> str | None:
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


def _policy(reader: _Reader, name: str, base: Path | None) -> Planned:
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


def _boolean(
    reader: _Reader, remediation: dict[str, Any], name: str, default: bool = False
) -> bool:
    value = remediation.get(name, default)
    if not isinstance(value, bool):
        reader.problem(f"spec.remediation.{name}", "must be true or false")
        return False
    return value


# Where a model field is written in a document, for problems the model itself finds
# (lengths, choices): they are reported under the document's own path.
DOCUMENT_PATHS = {
    "default_namespace": "spec.namespace",
    "interval_seconds": "spec.interval",
    "api_server_url": "spec.kubeconfig",
    "labels": "metadata.labels",
    "auto_remediate_up_to": "spec.remediation.autoRemediateUpTo",
    "strategy": "spec.remediation.strategy",
    "cluster_names": "spec.clusters.names",
    "cluster_selector": "spec.clusters.selector",
    "object_selector": "spec.objectSelector",
    "undeclared_fields": "spec.undeclaredFields",
    "detect_unmanaged": "spec.detectUnmanaged",
    "ignore_rules": "spec.ignore",
    "severity_rules": "spec.severity",
}


def _model_problems(item: Planned) -> list[Problem]:
    """What the model's own field checks refuse, before anything is written."""
    model = MODELS[item.kind]
    names = {f.name for f in model._meta.fields} - {"source"}
    candidate = model(name=item.name, **{k: v for k, v in item.values.items() if k in names})
    try:
        candidate.clean_fields(exclude=["source", "credentials", "hook_secret"])
    except ValidationError as error:
        return [
            Problem(
                f"documents[{item.index}]."
                + DOCUMENT_PATHS.get(
                    field, "metadata.name" if field == "name" else f"spec.{field}"
                ),
                message,
            )
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return []


def _nested_choice(
    reader: _Reader, remediation: dict[str, Any], name: str, choices: list[str], default: str
) -> str:
    value = remediation.get(name, default)
    if value not in choices:
        reader.problem(f"spec.remediation.{name}", f"must be one of {', '.join(choices)}")
        return default
    return str(value)


def _interval(reader: _Reader) -> int:
    return _seconds(reader, reader.spec.get("interval", 120), "spec.interval", 120, minimum=10)


def _seconds(reader: _Reader, value: Any, path: str, default: int, minimum: int) -> int:
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


READERS: dict[str, Callable[[_Reader, str, Path | None], Planned]] = {
    "Lane": _lane,
    "GitSource": _source,
    "Cluster": _cluster,
    "DriftPolicy": _policy,
}


def _check_references(
    planned: list[Planned], seen: dict[tuple[str, str], int], problems: list[Problem]
) -> None:
    lanes = {p.name for p in planned if p.kind == "Lane"} | set(
        Lane.objects.values_list("name", flat=True)
    )
    sources = {p.name for p in planned if p.kind == "GitSource"} | set(
        GitSource.objects.values_list("name", flat=True)
    )
    for item in planned:
        index = seen[item.kind, item.name]
        if item.kind == "Cluster":
            for position, lane in enumerate(item.lanes):
                if lane not in lanes:
                    problems.append(
                        Problem(
                            f"documents[{index}].spec.lanes[{position}]", f"no Lane named {lane!r}"
                        )
                    )
        if (
            item.kind == "DriftPolicy"
            and item.values["source"]
            and item.values["source"] not in sources
        ):
            problems.append(
                Problem(
                    f"documents[{index}].spec.source",
                    f"no GitSource named {item.values['source']!r}",
                )
            )
        if (
            item.kind == "Cluster"
            and not item.credentials_given
            and not Cluster.objects.filter(name=item.name).exists()
        ):
            problems.append(
                Problem(f"documents[{index}].spec.kubeconfig", "is required for a new cluster")
            )


@dataclass
class Applied:
    kind: str
    name: str
    action: str  # created | updated | unchanged


MODELS: dict[str, Any] = {
    "Lane": Lane,
    "GitSource": GitSource,
    "Cluster": Cluster,
    "DriftPolicy": DriftPolicy,
}


def apply(
    documents: list[Any], actor: Any, bases: list[Path | None] | None = None
) -> list[Applied]:
    """Validate, then create or update everything in one transaction (audited)."""
    planned = plan(documents, bases)
    results: list[Applied] = []
    with transaction.atomic():
        for item in planned:
            results.append(_write(item, actor))
    return results


def _write(item: Planned, actor: Any) -> Applied:
    model = MODELS[item.kind]
    values = dict(item.values)
    if item.kind == "DriftPolicy":
        values["source_id"] = GitSource.objects.get(name=values.pop("source")).pk
    obj = model.objects.select_for_update().filter(name=item.name).first()
    created = obj is None
    if created:
        obj = model(name=item.name)
    differing = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in differing:
        setattr(obj, name, values[name])
    changed = [name.removesuffix("_id") for name in differing]
    if item.credentials is not None and (created or obj.read_credentials() != item.credentials):
        obj.set_credentials(item.credentials)
        changed.append("credentials")
    if item.hook_secret == "" and obj.hook_secret:
        obj.hook_secret = ""
        changed.append("hook_secret")
    elif item.hook_secret and (not obj.hook_secret or unseal(obj.hook_secret) != item.hook_secret):
        obj.hook_secret = seal(item.hook_secret)
        changed.append("hook_secret")
    if created or changed:
        obj.full_clean(exclude=["lanes"] if item.kind == "Cluster" else None)
        obj.save()
    if item.kind == "Cluster":
        lanes = list(Lane.objects.filter(name__in=item.lanes))
        if {lane.name for lane in obj.lanes.all()} != set(item.lanes):
            obj.lanes.set(lanes)
            changed.append("lanes")
    action = "created" if created else "updated" if changed else "unchanged"
    if action != "unchanged":
        audit.record(
            actor,
            f"{model._meta.model_name}.{action}",
            obj,
            {"via": "drift apply", "changed": sorted(changed)},
        )
    return Applied(item.kind, item.name, action)
