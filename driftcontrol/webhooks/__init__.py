"""Outbound webhooks: the only module that sends them.

Events wait in the outbox table (written with the change they report). A beat task
(`dispatch`) claims pending rows with SELECT ... FOR UPDATE SKIP LOCKED, makes one
delivery row per matching active subscription and marks the events dispatched, all in one
transaction; a delivery task then POSTs each one. Delivery is at-least-once: a worker
that dies mid-request leaves the delivery due again, so receivers dedupe by event id.

Each request is signed: ``X-DriftControl-Signature: t=<unix time>,v1=<hex>`` where the hex
is HMAC-SHA256(secret, f"{t}.{body}"). Failed attempts are retried with exponential
backoff and jitter for WEBHOOK_RETRY_FOR_HOURS.

Targets are checked when a subscription is saved and again before every attempt (DNS
may change in between): only http(s), and every address the host resolves to must be
public unless WEBHOOK_ALLOW_PRIVATE_TARGETS is on. The request then goes to the address
that was checked, so a second DNS answer cannot redirect it, and redirects are not
followed.
"""

from driftcontrol.webhooks.delivery import (
    DELIVER,
    Attempt,
    body_of,
    deliver,
    dispatch,
    dispatch_pending,
    queue,
    queue_due,
    retry_delay,
    send,
    signature,
)
from driftcontrol.webhooks.subscriptions import (
    ALL_EVENTS,
    EVENT_TYPES,
    MIN_SECRET_LENGTH,
    InvalidSubscription,
    delete,
    redeliver,
    subscribe,
    update,
)
from driftcontrol.webhooks.targets import Target, TargetRefused, target_of, url_problem

__all__ = [
    "ALL_EVENTS",
    "DELIVER",
    "EVENT_TYPES",
    "Attempt",
    "InvalidSubscription",
    "MIN_SECRET_LENGTH",
    "Target",
    "TargetRefused",
    "body_of",
    "delete",
    "deliver",
    "dispatch",
    "dispatch_pending",
    "queue",
    "queue_due",
    "redeliver",
    "retry_delay",
    "send",
    "signature",
    "subscribe",
    "target_of",
    "update",
    "url_problem",
]
