"""Applying a batch: all or nothing. Only a batch without problems is written, in one
transaction, each object locked while it is compared; only what differs is saved and
audited, so applying the same documents again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from drift.declarative.planning import MODELS, plan
from drift.declarative.reading import Planned
from drift.models import GitSource, Lane
from driftcontrol import audit
from driftcontrol.crypto import seal, unseal


@dataclass
class Applied:
    """What applying a document did to its object."""

    kind: str
    name: str
    action: str  # created | updated | unchanged


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
    changed = _assign(obj, values)
    changed += _assign_secrets(obj, item, created)
    if created or changed:
        obj.full_clean(exclude=["lanes"] if item.kind == "Cluster" else None)
        obj.save()
    if item.kind == "Cluster" and _set_lanes(obj, item.lanes):
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


def _assign(obj: Any, values: dict[str, Any]) -> list[str]:
    """Set the fields that differ; their names, as the audit event lists them."""
    differing = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in differing:
        setattr(obj, name, values[name])
    return [name.removesuffix("_id") for name in differing]


def _assign_secrets(obj: Any, item: Planned, created: bool) -> list[str]:
    """A cluster's kubeconfig and a source's hook secret, stored sealed. Sealing the same
    text twice gives different ciphertext, so they are compared unsealed."""
    changed: list[str] = []
    if item.credentials is not None and (created or obj.read_credentials() != item.credentials):
        obj.set_credentials(item.credentials)
        changed.append("credentials")
    if item.hook_secret == "" and obj.hook_secret:
        obj.hook_secret = ""
        changed.append("hook_secret")
    elif item.hook_secret and (not obj.hook_secret or unseal(obj.hook_secret) != item.hook_secret):
        obj.hook_secret = seal(item.hook_secret)
        changed.append("hook_secret")
    return changed


def _set_lanes(cluster: Any, names: list[str]) -> bool:
    """Give the cluster exactly the lanes named; whether that changed them."""
    lanes = list(Lane.objects.filter(name__in=names))
    if {lane.name for lane in cluster.lanes.all()} == set(names):
        return False
    cluster.lanes.set(lanes)
    return True
