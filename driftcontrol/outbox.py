"""The event outbox: `publish` records an event in the caller's transaction.

Delivery (webhooks, notifications) reads pending rows later, so a rolled-back change
publishes nothing and a down broker loses nothing.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from driftcontrol.models import OutboxEvent
from driftcontrol.webhooks.events import event_type as catalogued

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def publish(event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    """Write ``event_type`` (dotted, e.g. "finding.opened") with a JSON payload in
    snake_case (webhook payload version 2; older versions are derived when sent).

    The type must be in the webhook catalogue (driftcontrol.webhooks.events), which holds
    its schema: an event nobody described is refused here, not discovered by a receiver.
    """
    if not _EVENT_TYPE.match(event_type):
        raise ValueError(
            f"event type {event_type!r} must be dotted lowercase words, e.g. 'finding.opened'"
        )
    if not catalogued(event_type).subscribable:
        raise ValueError(f"{event_type} is sent to one subscription on request, not published")
    body = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    with transaction.atomic():
        return OutboxEvent.objects.create(event_type=event_type, payload=body)


def prune(retention: timedelta) -> int:
    """Delete events dispatched longer than ``retention`` ago, with their delivery logs;
    an event with a delivery still being retried is kept. Returns the events deleted."""
    from driftcontrol.models import DeliveryStatus

    cutoff = timezone.now() - retention
    old = OutboxEvent.objects.filter(dispatched_at__lt=cutoff).exclude(
        deliveries__status=DeliveryStatus.PENDING
    )
    deleted, by_model = old.delete()
    return by_model.get(OutboxEvent._meta.label, 0)
