"""Snapshots of live objects: taken when a finding opens and before a remediation touches
an object, restored by rollbacks. Secret values are never kept."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from drift.engine.normalize import ObjectKey, key_of, redacted
from drift.models import Cluster, Finding, ObjectSnapshot
from drift.services.desired import secret_hasher

# Written by the API server, never by users: not part of an object's state.
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "selfLink",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
# Annotations controllers keep up to date by themselves.
VOLATILE_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def state_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without status and server-written metadata: what it *is*, comparable
    across moments and restorable with a PUT."""
    clean = {k: v for k, v in obj.items() if k != "status"}
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k not in VOLATILE_ANNOTATIONS
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    clean["metadata"] = metadata
    return clean


def digest(obj: dict[str, Any] | None) -> str:
    """A hash of an object's state (Secret values hashed first); "" for an absent object."""
    if obj is None:
        return ""
    safe = redacted(state_of(obj), secret_hasher())
    return hashlib.sha256(json.dumps(safe, sort_keys=True).encode()).hexdigest()


def take(
    cluster: Cluster,
    obj: dict[str, Any],
    reason: str,
    finding: Finding | None = None,
    request_id: int | None = None,
) -> ObjectSnapshot:
    key = key_of(obj)
    is_secret = obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"
    return ObjectSnapshot.objects.create(
        cluster=cluster,
        api_group=key.group,
        api_version=str(obj.get("apiVersion", "")),
        kind=key.kind,
        namespace=key.namespace,
        name=key.name,
        manifest=redacted(state_of(obj), secret_hasher()),
        resource_version=str((obj.get("metadata") or {}).get("resourceVersion", "")),
        reason=reason,
        finding=finding,
        request_id=request_id,
        redacted=is_secret,
    )


def latest(cluster: Cluster, key: ObjectKey, reasons: tuple[str, ...]) -> ObjectSnapshot | None:
    return (
        ObjectSnapshot.objects.filter(
            cluster=cluster,
            api_group=key.group,
            kind=key.kind,
            namespace=key.namespace,
            name=key.name,
            reason__in=reasons,
        )
        .order_by("-taken_at", "-pk")
        .first()
    )
