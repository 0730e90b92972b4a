"""The audit log: `record` writes one hash-chained event, `verify` checks the whole chain.

Each event's hash covers its own content and the previous event's hash, so changing,
inserting or removing any row breaks every link after it, and `verify` names the first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from driftcontrol.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64

Actor = AbstractBaseUser | AnonymousUser | str | None


def record(
    actor: Actor, action: str, obj: models.Model | None = None, data: dict[str, Any] | None = None
) -> AuditEvent:
    """Append an event inside the caller's transaction (or its own, if there is none).

    ``actor`` is a user, or a string naming a system component ("system:scanner");
    None means the system itself. The event commits or rolls back with the change.
    """
    actor_name, actor_user = _actor(actor)
    event = AuditEvent(
        actor=actor_name[:150],
        actor_user=actor_user,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        # Round-trip through JSON so the hash covers exactly what the database returns.
        data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
    )
    with transaction.atomic():
        # The head row comes with the migrations; get_or_create only matters after a
        # database flush (test suites), never in a deployed database.
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        event.sequence = head.sequence + 1
        event.prev_hash = head.hash
        event.hash = event_hash(event)
        event.save()
        head.sequence, head.hash = event.sequence, event.hash
        head.save(update_fields=["sequence", "hash"])
    return event


def _actor(actor: Actor) -> tuple[str, Any]:
    if actor is None:
        return "system", None
    if isinstance(actor, str):
        return actor, None
    if not actor.is_authenticated:
        return "anonymous", None
    return actor.get_username(), actor


def event_hash(event: AuditEvent) -> str:
    created = event.created_at.astimezone(UTC).isoformat(timespec="microseconds")
    content = [
        event.sequence,
        event.prev_hash,
        created,
        event.actor,
        event.actor_user_id,
        event.action,
        event.object_type,
        event.object_id,
        event.object_repr,
        event.data,
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None  # sequence number of the first bad event
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} events verified"
        return f"audit chain BROKEN at event #{self.broken_at}: {self.reason}"


def verify(batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order and report the first event that does not fit."""
    expected_prev, expected_sequence, checked = GENESIS, 1, 0
    events = AuditEvent.objects.order_by("sequence").iterator(chunk_size=batch_size)
    for event in events:
        if event.sequence != expected_sequence:
            return ChainReport(
                False,
                checked,
                expected_sequence,
                f"event #{expected_sequence} is missing (the next one found is #{event.sequence})",
            )
        if event.prev_hash != expected_prev:
            return ChainReport(
                False,
                checked,
                event.sequence,
                "its link to the previous event does not match "
                "(an event before it was changed or removed)",
            )
        if event_hash(event) != event.hash:
            return ChainReport(
                False,
                checked,
                event.sequence,
                "its content does not match its hash (the row was changed)",
            )
        expected_prev, expected_sequence, checked = event.hash, expected_sequence + 1, checked + 1
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead(sequence=0, hash=GENESIS)
    if head.sequence != checked or head.hash != expected_prev:
        return ChainReport(
            False,
            checked,
            checked + 1,
            f"the chain ends at #{checked} but its head records #{head.sequence}"
            " (events were removed from the end)",
        )
    return ChainReport(True, checked)
