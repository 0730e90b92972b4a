"""Outbound webhooks: the only module that sends them.

Events wait in the outbox table (written with the change they report). A beat task
(`dispatch`) claims pending rows with SELECT ... FOR UPDATE SKIP LOCKED, makes one
delivery row per matching active subscription and marks the events dispatched, all in one
transaction; a delivery task then POSTs each one. Delivery is at-least-once: a worker
that dies mid-request leaves the delivery due again, so receivers dedupe by event id.

Each request is signed: ``X-DriftControl-Signature: t=<unix time>,v1=<hex>`` where the hex
is HMAC-SHA256(secret, f"{t}.{body}"); during a secret rotation's overlap a second v1
carries the previous secret's signature (signing.py, rotation.py). Failed attempts are
retried with exponential backoff and jitter for WEBHOOK_RETRY_FOR_HOURS.

Every event type is in the catalogue (events.py) with its JSON Schema (schemas.py);
payloads are stored in version 2 (snake_case) and a subscription on version 1 gets them
converted (versions.py). Subscriptions may narrow what they hear by cluster, lane and
severity (filters.py); the log keeps each delivery's last request and response, redacted
(log.py).

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
)
from driftcontrol.webhooks.events import CATALOGUE, EVENT_TYPES, PING, envelope_schema
from driftcontrol.webhooks.ping import ping
from driftcontrol.webhooks.rotation import DEFAULT_OVERLAP, MAX_OVERLAP, rotate
from driftcontrol.webhooks.signing import signature
from driftcontrol.webhooks.subscriptions import (
    ALL_EVENTS,
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
    "CATALOGUE",
    "DEFAULT_OVERLAP",
    "DELIVER",
    "EVENT_TYPES",
    "MAX_OVERLAP",
    "PING",
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
    "envelope_schema",
    "ping",
    "queue",
    "queue_due",
    "redeliver",
    "retry_delay",
    "rotate",
    "send",
    "signature",
    "subscribe",
    "target_of",
    "update",
    "url_problem",
]
