from __future__ import annotations

from typing import Any

from celery import shared_task

from driftcontrol import webhooks
from driftcontrol.services.workers import record_heartbeat


@shared_task(name="system.heartbeat", bind=True, ignore_result=False)
def heartbeat(self: Any) -> dict[str, Any]:
    """Prove a worker consumes the default queue; the system page shows the last one."""
    queue = (self.request.delivery_info or {}).get("routing_key") or "default"
    beat = record_heartbeat(self.request.hostname or "unknown", [queue])
    return {"hostname": beat.hostname, "last_seen": beat.last_seen.isoformat()}


@shared_task(name="webhooks.dispatch", ignore_result=True)
def dispatch_webhooks() -> int:
    """Beat, every few seconds: outbox events to deliveries, and due deliveries queued."""
    return webhooks.dispatch()


# Not acks_late: a worker lost mid-request leaves the delivery due again in the table, and
# the next dispatch queues it; redelivering the message as well would only race with that.
@shared_task(name=webhooks.DELIVER, ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    webhooks.deliver(delivery_id)


@shared_task(name="api.prune_idempotency", ignore_result=True)
def prune_idempotency_records() -> int:
    from driftcontrol.api.idempotency import prune

    return prune()


@shared_task(name="outbox.prune", ignore_result=True)
def prune_outbox() -> int:
    """Daily: dispatched events (and their delivery logs) older than the retention go."""
    from datetime import timedelta

    from django.conf import settings

    from driftcontrol import outbox

    return outbox.prune(timedelta(days=settings.OUTBOX_RETENTION_DAYS))
