"""Pins: objects auto-remediation leaves alone until someone unpins them or Git changes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from drift import kube
from drift.engine.normalize import DesiredObject, ObjectKey
from drift.models import Cluster, DriftPolicy
from drift.services import desired
from drift.services.desired import secret_hasher
from driftcontrol import audit
from driftcontrol.exceptions import DomainError
from driftcontrol.permissions import Action, check
from remediation.models import ObjectPin


def desired_digest(declared: DesiredObject | None) -> str:
    """What Git declares for an object, as a hash (Secret values are already hashed)."""
    if declared is None:
        return ""
    return hashlib.sha256(json.dumps(declared.body, sort_keys=True).encode()).hexdigest()


def declared_digests(
    policy: DriftPolicy | None, discovery: kube.Discovery, keys: list[ObjectKey]
) -> dict[ObjectKey, str]:
    """What Git declares now for each object, as its pin remembers it ("" when Git cannot
    be read: that pin then lasts until someone unpins it). Read before pinning, so no
    transaction stays open while Git is fetched."""
    if policy is None:
        return dict.fromkeys(keys, "")
    try:
        state = desired.for_cluster(
            desired.read_revision(policy.source), policy, discovery, secret_hasher()
        )
    except Exception:  # Git unreachable, or the revision does not build
        return dict.fromkeys(keys, "")
    return {key: desired_digest(state.objects.get(key)) for key in keys}


def _pins(cluster: Cluster, key: ObjectKey) -> QuerySet[ObjectPin]:
    return ObjectPin.objects.active().filter(
        cluster=cluster, api_group=key.group, kind=key.kind, namespace=key.namespace, name=key.name
    )


def pin(cluster: Cluster, key: ObjectKey, reason: str, user: Any, digest: str) -> ObjectPin:
    """Pin an object (or keep its existing pin, with its original reason)."""
    existing = _pins(cluster, key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            created = ObjectPin.objects.create(
                cluster=cluster,
                api_group=key.group,
                kind=key.kind,
                namespace=key.namespace,
                name=key.name,
                reason=reason,
                desired_digest=digest,
                pinned_by=user if getattr(user, "pk", None) else None,
            )
    except IntegrityError:  # pinned concurrently
        return _pins(cluster, key).get()
    audit.record(
        user if getattr(user, "pk", None) else "system:remediation",
        "object.pinned",
        created,
        {"reason": reason},
    )
    return created


def active_pin(cluster: Cluster, key: ObjectKey, digest: str) -> ObjectPin | None:
    """The object's pin, unless Git changed what it declares since (which lifts it)."""
    found = _pins(cluster, key).first()
    if found is None:
        return None
    if found.desired_digest and digest and found.desired_digest != digest:
        release(found, None, "Git changed what it declares for the object")
        return None
    return found


def release(found: ObjectPin, user: Any, reason: str) -> ObjectPin:
    with transaction.atomic():
        updated = ObjectPin.objects.filter(pk=found.pk, released_at__isnull=True).update(
            released_at=timezone.now(),
            released_by=user if getattr(user, "pk", None) else None,
            release_reason=reason,
        )
        if updated:
            audit.record(
                user if getattr(user, "pk", None) else "system:remediation",
                "object.unpinned",
                found,
                {"reason": reason},
            )
    found.refresh_from_db()
    return found


def unpin(pin_id: int, user: Any, reason: str = "unpinned") -> ObjectPin:
    check(user, Action.UNPIN_OBJECT)
    found = ObjectPin.objects.active().filter(pk=pin_id).first()
    if found is None:
        raise DomainError(f"no active pin #{pin_id}")
    return release(found, user, reason)
