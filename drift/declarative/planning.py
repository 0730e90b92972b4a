"""Planning a batch of documents: every document is read and checked (its envelope, its
fields, what its model refuses, the lanes and sources it names) before anything is
written, and every problem is reported with its `documents[i].field.path`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from drift.declarative import cluster, drift_policy, git_source, lane
from drift.declarative.reading import API_VERSION, KINDS, NAME_PATTERN, Planned, Reader
from drift.engine.rules import Problem
from drift.models import Cluster, DriftPolicy, GitSource, Lane
from driftcontrol.exceptions import Invalid


class InvalidDocuments(Invalid):
    """Every problem found in a batch (paths start `documents[i].`), none of it applied."""


READERS: dict[str, Callable[[Reader, str, Path | None], Planned]] = {
    "Lane": lane.read,
    "GitSource": git_source.read,
    "Cluster": cluster.read,
    "DriftPolicy": drift_policy.read,
}
MODELS: dict[str, Any] = {
    "Lane": Lane,
    "GitSource": GitSource,
    "Cluster": Cluster,
    "DriftPolicy": DriftPolicy,
}
TOP_LEVEL = {"apiVersion", "kind", "metadata", "spec"}

# Where a model field is written in a document, for problems the model itself finds
# (lengths, choices): they are reported under the document's own path.
DOCUMENT_PATHS = {
    "name": "metadata.name",
    "default_namespace": "spec.namespace",
    "interval_seconds": "spec.interval",
    "sync_grace_seconds": "spec.syncGracePeriod",
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


def plan(documents: list[Any], bases: list[Path | None] | None = None) -> list[Planned]:
    """Validate a batch; raise InvalidDocuments listing every problem.

    ``bases`` gives each document's directory: relative paths in it (a Cluster's
    kubeconfig) resolve against the file that names them.
    """
    problems: list[Problem] = []
    planned: list[Planned] = []
    seen: dict[tuple[str, str], int] = {}
    for index, doc in enumerate(documents):
        unreadable = _envelope_problems(index, doc, seen)
        if unreadable:
            problems += unreadable
            continue
        kind, name = doc["kind"], doc["metadata"]["name"]
        seen[kind, name] = index
        item = READERS[kind](Reader(index, doc, problems), name, bases[index] if bases else None)
        item.index = index
        problems += _model_problems(item)
        planned.append(item)
    problems += _reference_problems(planned)
    if problems:
        raise InvalidDocuments(problems)
    return sorted(planned, key=lambda p: KINDS.index(p.kind))


def _envelope_problems(index: int, doc: Any, seen: dict[tuple[str, str], int]) -> list[Problem]:
    """What keeps a document from being read at all: its apiVersion, kind, name and
    top-level fields, or a kind and name the batch already defined. No problems: read it."""
    where = f"documents[{index}]"
    if not isinstance(doc, dict):
        return [Problem(where, "must be a mapping")]
    if doc.get("apiVersion") != API_VERSION:
        return [Problem(f"{where}.apiVersion", f"must be {API_VERSION}")]
    kind = doc.get("kind")
    if kind not in READERS:
        return [Problem(f"{where}.kind", f"must be one of {', '.join(KINDS)}")]
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return [Problem(f"{where}.metadata.name", "must be a lowercase DNS label (a-z, 0-9, '-')")]
    if (kind, name) in seen:
        defined = f"{kind} {name} is already defined by documents[{seen[kind, name]}]"
        return [Problem(where, defined)]
    problems = [
        Problem(f"{where}.{key}", "unknown field; expected apiVersion, kind, metadata, spec")
        for key in sorted(set(doc) - TOP_LEVEL)
    ]
    if "spec" in doc and not isinstance(doc["spec"], dict):
        problems.append(Problem(f"{where}.spec", "must be a mapping"))
    return problems


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
                f"documents[{item.index}].{DOCUMENT_PATHS.get(field, f'spec.{field}')}", message
            )
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return []


def _reference_problems(planned: list[Planned]) -> list[Problem]:
    """Lanes and sources must be in the batch or stored already; a new cluster needs a
    kubeconfig."""
    lanes = {p.name for p in planned if p.kind == "Lane"} | set(
        Lane.objects.values_list("name", flat=True)
    )
    sources = {p.name for p in planned if p.kind == "GitSource"} | set(
        GitSource.objects.values_list("name", flat=True)
    )
    problems: list[Problem] = []
    for item in planned:
        if item.kind == "Cluster":
            problems += _cluster_references(item, lanes)
        source = item.values["source"] if item.kind == "DriftPolicy" else None
        if source and source not in sources:
            problems.append(
                Problem(f"documents[{item.index}].spec.source", f"no GitSource named {source!r}")
            )
    return problems


def _cluster_references(item: Planned, lanes: set[str]) -> list[Problem]:
    where = f"documents[{item.index}].spec"
    problems = [
        Problem(f"{where}.lanes[{position}]", f"no Lane named {named!r}")
        for position, named in enumerate(item.lanes)
        if named not in lanes
    ]
    if not item.credentials_given and not Cluster.objects.filter(name=item.name).exists():
        problems.append(Problem(f"{where}.kubeconfig", "is required for a new cluster"))
    return problems
