"""A test delivery (ping), and rotating a secret with two valid signatures meanwhile."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from driftcontrol import webhooks
from driftcontrol.models import AuditEvent, OutboxEvent, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db
SECRET = "receiver-shared-secret-0123456789"


@pytest.fixture
def inline_delivery(tasks):
    tasks.run("webhooks.deliver", webhooks.deliver)
    return tasks


def subscribe(receiver, name="tickets", events=("finding.opened",)) -> WebhookSubscription:
    subscription, _ = webhooks.subscribe("cli:test", name, receiver.url, list(events), SECRET)
    return subscription


def verify(secret: str, signature_header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's side, as the integration guide shows it for an overlap: any v1 may
    match the secret it holds."""
    pairs = [part.split("=", 1) for part in signature_header.split(",") if "=" in part]
    try:
        timestamp = int(next(value for key, value in pairs if key == "t"))
    except (StopIteration, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return any(hmac.compare_digest(expected.hexdigest(), v) for k, v in pairs if k == "v1")


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_a_ping_goes_to_that_subscription_only_and_is_audited(
    receiver,
    private_targets,
    inline_delivery,
    client_for,
    admin_user,
    django_capture_on_commit_callbacks,
):
    pinged = subscribe(receiver, "pinged")
    subscribe(receiver, "everything", ["*"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(f"/api/v1/webhooks/{pinged.pk}/ping/")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert response.json()["id"] == str(delivery.pk) and response.json()["event_type"] == "ping"
    assert response["Location"] == f"/api/v1/webhook-deliveries/{delivery.pk}/"
    [request] = receiver.wait_for(1)
    assert request.headers["X-DriftControl-Event"] == "ping"
    assert request.json()["payload"] == {
        "subscription": {"id": pinged.pk, "name": "pinged"},
        "requested_by": "ada",
    }
    assert verify(SECRET, request.headers["X-DriftControl-Signature"], request.body)
    assert OutboxEvent.objects.pending().count() == 0  # never fanned out by the dispatcher
    assert webhooks.dispatch_pending() == 0
    [audit] = audits("webhook.ping_requested")
    assert (audit.actor, audit.data["delivery"]) == ("ada", str(delivery.pk))


def test_a_paused_subscription_cannot_be_pinged(receiver, private_targets, client_for, admin_user):
    paused = subscribe(receiver)
    webhooks.update("cli:test", paused.pk, active=False)

    response = client_for(admin_user).post(f"/api/v1/webhooks/{paused.pk}/ping/")

    assert response.status_code == 409
    assert "paused" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


def test_only_admins_ping(receiver, private_targets, client_for, operator):
    subscription = subscribe(receiver)

    assert client_for(operator).post(f"/api/v1/webhooks/{subscription.pk}/ping/").status_code == 403


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(
    receiver,
    private_targets,
    inline_delivery,
    client_for,
    admin_user,
    django_capture_on_commit_callbacks,
):
    subscription = subscribe(receiver)
    client = client_for(admin_user)

    rotated = client.post(
        f"/api/v1/webhooks/{subscription.pk}/rotate-secret/",
        {"overlap_seconds": 3600},
        format="json",
    )

    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert len(new) >= 32 and new != SECRET
    assert rotated.json()["previous_secret_valid_until"] is not None
    assert "secret" not in client.get(f"/api/v1/webhooks/{subscription.pk}/").json()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.ping("cli:test", subscription.pk)
    [during] = receiver.wait_for(1)
    header = during.headers["X-DriftControl-Signature"]
    assert header.count("v1=") == 2 and header.startswith("t=")
    assert verify(new, header, during.body) and verify(SECRET, header, during.body)
    # The guide's earlier code kept the last v1: a receiver not yet told of the rotation,
    # holding the previous secret, still accepts deliveries during the overlap.
    last_v1 = dict(part.split("=", 1) for part in header.split(","))["v1"]
    signed = f"{header.split(',')[0][2:]}.".encode() + during.body
    assert last_v1 == hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()

    WebhookSubscription.objects.update(previous_secret_expires_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.ping("cli:test", subscription.pk)
    after = receiver.wait_for(2)[1]
    header = after.headers["X-DriftControl-Signature"]
    assert header.count("v1=") == 1
    assert verify(new, header, after.body) and not verify(SECRET, header, after.body)
    [audit] = audits("webhook.secret_rotated")
    assert audit.data["overlap_seconds"] == 3600 and new not in str(audit.data)


def test_a_second_rotation_during_an_overlap_retires_the_oldest_secret(receiver, private_targets):
    subscription = subscribe(receiver)
    _, second = webhooks.rotate("cli:test", subscription.pk)
    _, third = webhooks.rotate("cli:test", subscription.pk, timedelta(hours=1))

    subscription.refresh_from_db()
    from driftcontrol.crypto import unseal

    signing = [unseal(s) for s in subscription.signing_secrets(timezone.now())]
    assert signing == [third, second]
    assert audits("webhook.secret_rotated")[-1].data["dropped_an_older_secret"] is True


def test_rotation_refuses_an_overlap_beyond_a_week(
    receiver, private_targets, client_for, admin_user
):
    subscription = subscribe(receiver)

    response = client_for(admin_user).post(
        f"/api/v1/webhooks/{subscription.pk}/rotate-secret/",
        {"overlap_seconds": 8 * 86400},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "overlap_seconds"
    assert not audits("webhook.secret_rotated")


def test_setting_a_secret_outright_ends_the_overlap(receiver, private_targets):
    subscription = subscribe(receiver)
    webhooks.rotate("cli:test", subscription.pk)

    webhooks.update("cli:test", subscription.pk, secret="a-brand-new-secret-000000")

    subscription.refresh_from_db()
    assert len(subscription.signing_secrets(timezone.now())) == 1


def test_the_command_line_pings_and_rotates(receiver, private_targets, tasks):
    subscribe(receiver)
    out = StringIO()

    call_command("drift", "webhook", "ping", "tickets", stdout=out, stderr=StringIO())
    call_command("drift", "webhook", "rotate-secret", "tickets", "--overlap", "2h", stdout=out)

    assert WebhookDelivery.objects.get().event_type == "ping"
    secret = out.getvalue().split("secret: ")[1].strip()
    subscription = WebhookSubscription.objects.get()
    expires = subscription.previous_secret_expires_at
    assert timedelta(minutes=119) < expires - timezone.now() <= timedelta(hours=2)
    from driftcontrol.crypto import unseal

    assert unseal(subscription.secret) == secret


def test_the_browser_pings_and_rotates(client, admin_user, receiver, private_targets, tasks):
    subscription = subscribe(receiver)
    client.force_login(admin_user)

    page = client.get(reverse("webhook", args=[subscription.pk]))
    assert b"Send a ping" in page.content and b"Rotate" in page.content
    client.post(reverse("webhook-ping", args=[subscription.pk]))
    shown = client.post(reverse("webhook-rotate", args=[subscription.pk]), {"overlap_hours": "24"})

    assert WebhookDelivery.objects.get().event_type == "ping"
    assert shown.status_code == 200
    assert shown.context["secret"].encode() in shown.content
    assert b"two signatures" in shown.content
    assert {a.action for a in AuditEvent.objects.all()} >= {
        "webhook.ping_requested",
        "webhook.secret_rotated",
    }
