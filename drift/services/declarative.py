"""Configuration as documents: `drift apply -f` reads Lane, Cluster, GitSource and
DriftPolicy documents (apiVersion driftcontrol.io/v1alpha1), `drift export` writes them.

Applying is all-or-nothing: every document is validated first and every problem is
reported with its document index and field path; only a batch without problems is
written, in one transaction, and applying the same batch twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from drift.engine.rules import Problem
from drift.models import Cluster, DriftPolicy, GitSource, Lane
from drift.services.documents import (
    API_VERSION,
    KINDS,
    NAME_PATTERN,
    READERS,
    Planned,
    Reader,
)
from driftcontrol import audit
from driftcontrol.crypto import seal, unseal
from driftcontrol.exceptions import Invalid

__all__ = ["API_VERSION", "KINDS", "Applied", "InvalidDocuments", "Planned", "apply", "plan"]


class InvalidDocuments(Invalid):
    """Every problem found in a batch (paths start `documents[i].`), none of it applied."""


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
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
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
        reader = Reader(index, doc, problems)
        item = READERS[kind](reader, name, bases[index] if bases else None)
        item.index = index
        problems += _model_problems(item)
        planned.append(item)
    _check_references(planned, seen, problems)
    if problems:
        raise InvalidDocuments(problems)
    return sorted(planned, key=lambda p: KINDS.index(p.kind))


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
    documents: list[Any],
    actor: Any,
    bases: list[Path | None] | None = None,
    via: str = "drift apply",
) -> list[Applied]:
    """Validate, then create or update everything in one transaction (audited, saying
    ``via`` which door the change came through)."""
    planned = plan(documents, bases)
    results: list[Applied] = []
    with transaction.atomic():
        for item in planned:
            results.append(_write(item, actor, via))
    return results


def _write(item: Planned, actor: Any, via: str) -> Applied:
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
            {"via": via, "changed": sorted(changed)},
        )
    return Applied(item.kind, item.name, action)
