"""Outbound webhooks against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from driftcontrol import webhooks
from driftcontrol.models import DeliveryStatus, OutboxEvent, WebhookDelivery
from driftcontrol.outbox import publish
from driftcontrol.webhooks import targets

pytestmark = pytest.mark.django_db
SECRET = "receiver-shared-secret-0123456789"


@pytest.fixture
def inline_delivery(tasks, django_capture_on_commit_callbacks):
    """Delivery tasks run here, at commit, instead of on a worker."""
    tasks.run("webhooks.deliver", webhooks.deliver)
    return tasks


def dispatch(capture) -> int:
    """What the beat task does, with the deliveries it queues run at commit."""
    with capture(execute=True):
        return webhooks.dispatch()


def subscribe(receiver, events=("*",), name="tickets"):
    subscription, _ = webhooks.subscribe("cli:test", name, receiver.url, list(events), SECRET)
    return subscription


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's side, as docs/integrations.md shows it."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(timezone.now().timestamp() - int(fields["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), fields["v1"])


def test_an_event_reaches_the_receiver_signed(
    receiver, private_targets, inline_delivery, django_capture_on_commit_callbacks
):
    subscribe(receiver)
    event = publish("finding.opened", {"finding": {"id": 7}, "links": {"ui": "x"}})

    assert dispatch(django_capture_on_commit_callbacks) == 1

    [request] = receiver.wait_for(1)
    assert verify(SECRET, request.headers["X-DriftControl-Signature"], request.body)
    assert not verify(
        "another-secret-entirely-000000", request.headers["X-DriftControl-Signature"], request.body
    )
    assert request.headers["X-DriftControl-Event"] == "finding.opened"
    assert request.headers["X-DriftControl-Event-Id"] == str(event.pk)
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert (body["id"], body["type"]) == (str(event.pk), "finding.opened")
    assert body["payload"] == {"finding": {"id": 7}, "links": {"ui": "x"}}
    assert body["time"].endswith("Z")
    delivery = WebhookDelivery.objects.get()
    assert request.headers["X-DriftControl-Delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_a_receiver_that_fails_twice_gets_the_event_once_more_until_it_succeeds(
    receiver, private_targets, inline_delivery, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    receiver.script = [500, 503]
    subscribe(receiver)
    publish("finding.resolved", {"finding": {"id": 7}})

    dispatch(django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    first_retry = delivery.next_attempt_at - delivery.last_attempt_at
    assert delivery.status == "pending" and timedelta(seconds=5) <= first_retry <= timedelta(
        seconds=10
    )
    dispatch(django_capture_on_commit_callbacks)  # not due yet: nothing is sent
    assert len(receiver.requests) == 1

    for _ in range(2):  # time passes: the retry is due
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        dispatch(django_capture_on_commit_callbacks)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    dispatch(django_capture_on_commit_callbacks)  # delivered: nothing more to send

    assert len(receiver.requests) == 3
    assert len({r.headers["X-DriftControl-Event-Id"] for r in receiver.requests}) == 1
    assert len({r.headers["X-DriftControl-Delivery"] for r in receiver.requests}) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    assert delivery.last_error == ""


def test_retries_back_off_exponentially_with_jitter(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10

    delays = [webhooks.retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 12)]

    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
    assert 40 <= delays[3] <= 80
    assert 1800 <= delays[4] <= 3600  # capped at an hour


def test_a_delivery_is_given_up_after_the_retry_window(
    receiver, private_targets, inline_delivery, django_capture_on_commit_callbacks
):
    receiver.script = [500]
    subscribe(receiver)
    publish("scan.failed", {"scan": 1})
    with django_capture_on_commit_callbacks(execute=False):
        webhooks.dispatch_pending()
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=24))

    webhooks.deliver(WebhookDelivery.objects.get().pk)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code) == (DeliveryStatus.FAILED, 500)
    assert delivery.last_error == "the receiver answered 500"


def test_only_active_subscriptions_to_the_type_get_a_delivery(
    receiver, private_targets, inline_delivery, django_capture_on_commit_callbacks
):
    subscribe(receiver, ["finding.opened"], "findings")
    subscribe(receiver, ["scan.failed"], "scans")
    off = subscribe(receiver, ["*"], "off")
    webhooks.update("cli:test", off.pk, active=False)
    publish("finding.opened", {"finding": {"id": 1}})

    dispatch(django_capture_on_commit_callbacks)

    assert [d.subscription.name for d in WebhookDelivery.objects.all()] == ["findings"]
    assert len(receiver.wait_for(1)) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("ftp://example.com/hook", "only http and https"),
        ("http://user:pw@example.com/", "no credentials"),
    ],
)
def test_targets_that_are_not_public_are_refused(url, reason):
    with pytest.raises(webhooks.InvalidSubscription, match=reason):
        webhooks.subscribe("cli:test", "bad", url, ["*"])


def test_a_host_is_refused_when_any_of_its_addresses_is_private(monkeypatch):
    monkeypatch.setattr(targets, "_resolve", lambda host, port: ["93.184.216.34", "10.0.0.5"])

    with pytest.raises(webhooks.InvalidSubscription, match="10.0.0.5, a private address"):
        webhooks.subscribe("cli:test", "split", "https://hooks.example.com/x", ["*"])


def test_the_target_is_checked_again_at_delivery_time(
    receiver, private_targets, settings, inline_delivery, django_capture_on_commit_callbacks
):
    subscribe(receiver)  # allowed then; the host now resolves to a loopback address
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    publish("finding.opened", {"finding": {"id": 1}})

    dispatch(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error.startswith("refused: ")
    assert receiver.requests == []


def test_a_delivery_that_cannot_be_queued_stays_due_and_goes_out_later(
    receiver, private_targets, tasks, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    def broker_down(delivery_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    subscribe(receiver)
    publish("finding.opened", {"finding": {"id": 1}})
    tasks.run("webhooks.deliver", broker_down)
    dispatch(django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.get().queued_at is None  # nothing was queued

    tasks.run("webhooks.deliver", webhooks.deliver)
    dispatch(django_capture_on_commit_callbacks)

    assert len(receiver.wait_for(1)) == 1
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_redelivery_sends_the_same_event_with_a_new_delivery_id(
    receiver,
    private_targets,
    inline_delivery,
    django_capture_on_commit_callbacks,
    client_for,
    admin_user,
):
    subscribe(receiver)
    event = publish("finding.opened", {"finding": {"id": 1}})
    dispatch(django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(f"/api/v1/webhook-deliveries/{first.pk}/redeliver/")

    assert response.status_code == 202
    assert response.json()["redelivery_of"] == str(first.pk)
    first_request, second_request = receiver.wait_for(2)
    assert second_request.json()["id"] == first_request.json()["id"] == str(event.pk)
    assert second_request.headers["X-DriftControl-Delivery"] == response.json()["id"]


def test_the_delivery_log_is_visible_in_the_api(
    receiver,
    private_targets,
    inline_delivery,
    django_capture_on_commit_callbacks,
    client_for,
    admin_user,
):
    receiver.script = [502]
    subscription = subscribe(receiver)
    publish("scan.failed", {"scan": 3})
    dispatch(django_capture_on_commit_callbacks)

    response = client_for(admin_user).get(
        "/api/v1/webhook-deliveries/", {"subscription": subscription.pk}
    )

    [row] = response.json()["results"]
    assert row["status"] == "pending" and row["attempts"] == 1
    assert (row["response_code"], row["last_error"]) == (502, "the receiver answered 502")
    assert row["duration_ms"] is not None and row["event_type"] == "scan.failed"


def test_subscriptions_through_the_api_refuse_private_targets_with_field_errors(
    client_for, admin_user
):
    response = client_for(admin_user).post(
        "/api/v1/webhooks/",
        {"name": "x", "url": "http://127.0.0.1/x", "event_types": ["finding.opened", "nope"]},
        format="json",
    )

    assert response.status_code == 400
    errors = {e["field"]: e["detail"] for e in response.json()["errors"]}
    assert set(errors) == {"url", "event_types[1]"}
    assert "loopback" in errors["url"]


def test_subscribing_through_the_api_generates_and_shows_the_secret_once(
    client_for, admin_user, private_targets, receiver
):
    client = client_for(admin_user)
    created = client.post(
        "/api/v1/webhooks/",
        {"name": "jira", "url": receiver.url, "event_types": ["finding.opened"]},
        format="json",
    )

    assert created.status_code == 201
    assert len(created.json()["secret"]) >= 32
    shown = client.get(f"/api/v1/webhooks/{created.json()['id']}/").json()
    assert "secret" not in shown


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_take_the_same_event(private_targets, receiver):
    subscribe(receiver)
    publish("finding.opened", {"finding": {"id": 1}})
    held, release = threading.Event(), threading.Event()

    def other_dispatcher() -> None:
        try:
            with transaction.atomic():
                list(OutboxEvent.objects.pending().select_for_update(skip_locked=True))
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_dispatcher)
    thread.start()
    held.wait(10)
    try:
        assert webhooks.dispatch_pending() == 0  # locked by the other one: skipped, no wait
    finally:
        release.set()
        thread.join()
    assert WebhookDelivery.objects.count() == 0
