"""Dispatch and delivery: events become deliveries, deliveries become signed POSTs.

Events wait in the outbox table (written with the change they report). A beat task
(`dispatch`) claims pending rows with SELECT ... FOR UPDATE SKIP LOCKED, makes one
delivery row per matching active subscription and marks the events dispatched, all in one
transaction; a delivery task then POSTs each one. Delivery is at-least-once: a worker
that dies mid-request leaves the delivery due again, so receivers dedupe by event id.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from driftcontrol import queue as task_queue
from driftcontrol.models import DeliveryStatus, OutboxEvent, WebhookDelivery, WebhookSubscription
from driftcontrol.webhooks import filters
from driftcontrol.webhooks import log as delivery_log
from driftcontrol.webhooks.signing import signature
from driftcontrol.webhooks.targets import Target, TargetRefused, target_of
from driftcontrol.webhooks.versions import CURRENT, payload_in

log = logging.getLogger(__name__)

USER_AGENT = "DriftControl-Webhooks/1"
MAX_RETRY_DELAY = timedelta(hours=1)
# A delivery queued but not picked up within this time is queued again: its message was
# lost (broker restarted) or the workers were down.
REQUEUE_AFTER = timedelta(minutes=2)
DISPATCH_BATCH = 200
# The task that delivers one webhook (driftcontrol/tasks.py), queued by name.
DELIVER = "webhooks.deliver"


# --- dispatch -----------------------------------------------------------------------------


def dispatch_pending(batch: int = DISPATCH_BATCH) -> int:
    """Turn pending outbox events into deliveries; the number of events dispatched."""
    return _dispatch_batch(batch)[0]


def _dispatch_batch(batch: int) -> tuple[int, list[Any]]:
    # SKIP LOCKED lets two dispatchers (two beat ticks, or a tick and a manual call) share
    # the work without waiting on each other or dispatching one event twice.
    subscriptions = list(WebhookSubscription.objects.filter(active=True))
    with transaction.atomic():
        events = list(OutboxEvent.objects.pending().select_for_update(skip_locked=True)[:batch])
        if not events:
            return 0, []
        now = timezone.now()
        lanes = _lanes_if_asked(subscriptions, events)
        # The retry window counts from the delivery's creation, not from the event's.
        deliveries = [
            WebhookDelivery(
                subscription=s,
                event=e,
                event_type=e.event_type,
                created_at=now,
                next_attempt_at=now,
            )
            for e in events
            for s in subscriptions
            if s.wants(e.event_type) and filters.admits(s, e.payload, lanes)
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: queue(ids))
    return len(events), ids


def _lanes_if_asked(
    subscriptions: list[WebhookSubscription], events: list[OutboxEvent]
) -> dict[str, set[str]]:
    """The lanes of the events' clusters, looked up (once a batch) only if a filter asks."""
    if not any(s.lanes for s in subscriptions):
        return {}
    clusters = {filters.cluster_of(e.payload) for e in events}
    return filters.lanes_by_cluster(c for c in clusters if c is not None)


def dispatch(max_batches: int = 25) -> int:
    """What the beat task does: dispatch pending events, then queue deliveries that are
    due (retries, and those whose message was lost). Returns the events dispatched."""
    total, fresh = 0, list[Any]()
    for _ in range(max_batches):
        done, ids = _dispatch_batch(DISPATCH_BATCH)
        total, fresh = total + done, fresh + ids
        if done < DISPATCH_BATCH:
            break
    queue_due(exclude=fresh)  # the fresh ones are queued when their transaction commits
    return total


def queue_due(limit: int = 500, exclude: Iterable[Any] = ()) -> int:
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
        .exclude(pk__in=list(exclude))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    queue(due)
    return len(due)


def queue(delivery_ids: Iterable[Any]) -> None:
    """Send a delivery task for each id. A broker that is down loses nothing: the rows
    stay due and the next dispatch queues them again."""
    ids = list(delivery_ids)
    if not ids:
        return
    WebhookDelivery.objects.filter(pk__in=ids).update(queued_at=timezone.now())
    for index, delivery_id in enumerate(ids):
        try:
            task_queue.send(DELIVER, str(delivery_id))
        except Exception as error:  # kombu's OperationalError and friends: broker is down
            log.warning("cannot queue webhook deliveries (%s); they stay due", error)
            WebhookDelivery.objects.filter(pk__in=ids[index:]).update(queued_at=None)
            return


# --- delivery -----------------------------------------------------------------------------


def body_of(event: OutboxEvent, version: int = CURRENT) -> bytes:
    """The request body: the event's id, type, time, payload version and payload (with
    its links), the payload shaped as ``version`` asks."""
    document = {
        "id": str(event.id),
        "type": event.event_type,
        "time": event.created_at.isoformat().replace("+00:00", "Z"),
        "payload_version": version,
        "payload": payload_in(event.payload, version),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: base x 2^(n-1), capped at an hour, then a random
    half to whole of it, so receivers coming back are not hit by every retry at once."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, min(attempts - 1, 20))
    ceiling = min(base, MAX_RETRY_DELAY.total_seconds())
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


@dataclass
class Attempt:
    """One attempt's outcome, and what the log keeps of it (already redacted)."""

    ok: bool
    status: int | None = None
    duration_ms: int = 0
    error: str = ""
    request: Sent | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    truncated: bool = False


@dataclass
class Sent:
    """The request of an attempt as the log shows it."""

    payload_version: int
    headers: dict[str, str]
    body: str


def deliver(delivery_id: Any) -> WebhookDelivery | None:
    """One attempt at one delivery; None when it is not due or another worker has it."""
    now = timezone.now()
    lease = now + timedelta(seconds=3 * settings.WEBHOOK_TIMEOUT_SECONDS + 30)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription", "event").get(pk=delivery_id)
    if not delivery.subscription.active:
        attempt = Attempt(False, error="the subscription is inactive")
        _finish(delivery, attempt, give_up=True)
        return delivery
    attempt = send(delivery)
    _finish(delivery, attempt)
    return delivery


def request_of(delivery: WebhookDelivery) -> tuple[bytes, dict[str, str]]:
    """The body and headers of an attempt at ``delivery``, signed with every secret that
    signs now (two during a rotation's overlap)."""
    from driftcontrol.crypto import unseal

    subscription = delivery.subscription
    version = subscription.payload_version
    body = body_of(delivery.event, version)
    keys = [
        unseal(sealed, f"secret of webhook {subscription.name}")
        for sealed in subscription.signing_secrets(timezone.now())
    ]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-DriftControl-Event": delivery.event_type,
        "X-DriftControl-Event-Id": str(delivery.event_id),
        "X-DriftControl-Delivery": str(delivery.pk),
        "X-DriftControl-Payload-Version": str(version),
        "X-DriftControl-Signature": signature(keys[0], int(time.time()), body, *keys[1:]),
    }
    return body, headers


def send(delivery: WebhookDelivery) -> Attempt:
    body, headers = request_of(delivery)
    sent = Sent(
        delivery.subscription.payload_version,
        delivery_log.redacted(headers.items()),
        body.decode(),
    )
    try:
        target = target_of(delivery.subscription.url)
    except TargetRefused as error:
        return Attempt(False, error=f"refused: {error}", request=sent)
    started = time.monotonic()
    try:
        response = _post(target, body, headers)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        error_text = f"{type(error).__name__}: {error}"
        return Attempt(False, duration_ms=_ms(started), error=error_text, request=sent)
    try:
        raw = response.read(delivery_log.MAX_RESPONSE_BODY + 1, decode_content=True)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raw = f"(the response body could not be read: {type(error).__name__})".encode()
    response.release_conn()
    text, truncated = delivery_log.bounded(raw)
    ok = 200 <= response.status < 300
    return Attempt(
        ok,
        response.status,
        _ms(started),
        "" if ok else f"the receiver answered {response.status}",
        sent,
        delivery_log.redacted(response.headers.items()),
        text,
        truncated,
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _post(target: Target, body: bytes, headers: dict[str, str]) -> Any:
    """POST to the checked address itself, with the URL's host name for HTTP and TLS."""
    timeout = urllib3.Timeout(connect=5.0, read=float(settings.WEBHOOK_TIMEOUT_SECONDS))
    last: Exception | None = None
    for address in target.addresses:
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                timeout=timeout,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
        try:
            return pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": target.host_header},
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.NewConnectionError as error:
            last = error  # try the host's next address
        finally:
            pool.close()
    assert last is not None
    raise last


def _finish(delivery: WebhookDelivery, attempt: Attempt, give_up: bool = False) -> None:
    now = timezone.now()
    delivery.response_code = attempt.status
    delivery.duration_ms = attempt.duration_ms
    delivery.response_excerpt = attempt.response_body[:500]
    delivery.last_error = attempt.error[:2000]
    _log(delivery, attempt)
    if attempt.ok:
        delivery.status, delivery.delivered_at = DeliveryStatus.SUCCEEDED, now
    else:
        retry_at = now + retry_delay(delivery.attempts)
        deadline = delivery.created_at + timedelta(hours=settings.WEBHOOK_RETRY_FOR_HOURS)
        if give_up or retry_at > deadline:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = retry_at
    delivery.queued_at = None
    delivery.save(update_fields=[*_OUTCOME_FIELDS, *_LOG_FIELDS])
    if not attempt.ok:
        log.info(
            "webhook delivery %s to %s failed (attempt %s): %s",
            delivery.pk,
            delivery.subscription.name,
            delivery.attempts,
            attempt.error,
        )


_OUTCOME_FIELDS = (
    "status",
    "delivered_at",
    "next_attempt_at",
    "queued_at",
    "response_code",
    "duration_ms",
    "response_excerpt",
    "last_error",
)
_LOG_FIELDS = (
    "payload_version",
    "request_headers",
    "request_body",
    "response_headers",
    "response_body",
    "response_truncated",
)


def _log(delivery: WebhookDelivery, attempt: Attempt) -> None:
    """Keep the attempt as sent and answered; an attempt that sent nothing keeps what the
    last one sent, so the log still shows a request."""
    if attempt.request is not None:
        delivery.payload_version = attempt.request.payload_version
        delivery.request_headers = attempt.request.headers
        delivery.request_body = attempt.request.body
    delivery.response_headers = attempt.response_headers
    delivery.response_body = attempt.response_body
    delivery.response_truncated = attempt.truncated
