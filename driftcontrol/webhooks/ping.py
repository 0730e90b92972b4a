"""A test delivery: a `ping` event sent to one subscription, on request.

The event is written already dispatched, with its one delivery, so the dispatcher never
fans it out to other subscriptions; from there it is delivered, retried, logged and
redelivered like any other.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from driftcontrol import audit
from driftcontrol.exceptions import InvalidTransition
from driftcontrol.models import OutboxEvent, WebhookDelivery
from driftcontrol.webhooks.delivery import queue
from driftcontrol.webhooks.events import PING
from driftcontrol.webhooks.subscriptions import locked, may_manage


def ping(actor: Any, subscription_id: int) -> WebhookDelivery:
    """Queue a ping to the subscription (whatever its event types and filters); the
    delivery. A paused subscription sends nothing, so it cannot be pinged."""
    may_manage(actor)
    who = actor if isinstance(actor, str) else actor.get_username()
    with transaction.atomic():
        subscription = locked(subscription_id)
        if not subscription.active:
            raise InvalidTransition(
                f"subscription {subscription.name} is paused; make it active to ping it"
            )
        now = timezone.now()
        event = OutboxEvent.objects.create(
            event_type=PING,
            payload={
                "subscription": {"id": subscription.pk, "name": subscription.name},
                "requested_by": who,
            },
            created_at=now,
            dispatched_at=now,
        )
        delivery = WebhookDelivery.objects.create(
            subscription=subscription,
            event=event,
            event_type=PING,
            requested_by=who,
            created_at=now,
            next_attempt_at=now,
        )
        audit.record(
            actor,
            "webhook.ping_requested",
            subscription,
            {"event": str(event.pk), "delivery": str(delivery.pk)},
        )
        transaction.on_commit(lambda: queue([delivery.pk]))
    return delivery
