"""API tokens and webhook subscriptions managed in the browser."""

import pytest
from django.urls import reverse

from driftcontrol import webhooks
from driftcontrol.models import (
    ApiToken,
    AuditEvent,
    OutboxEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from driftcontrol.tokens import authenticate

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_and_works(client, viewer):
    client.force_login(viewer)

    page = client.post(reverse("tokens"), {"name": "jira-sync", "scope": "read", "lifetime": "30"})

    assert page.status_code == 200
    raw = page.context["created"]
    assert raw.startswith("dct_") and raw.encode() in page.content
    assert authenticate(raw).name == "jira-sync"
    again = client.get(reverse("tokens"))
    assert raw.encode() not in again.content  # never shown again
    assert ApiToken.objects.get().prefix.encode() in again.content


def test_a_token_never_carries_more_than_the_role(client, viewer):
    client.force_login(viewer)

    page = client.post(
        reverse("tokens"), {"name": "too-wide", "scope": "approve", "lifetime": "30"}
    )

    assert page.status_code == 400
    assert b"their tokens may have scope read" in page.content
    assert not ApiToken.objects.exists()


def test_people_revoke_their_own_tokens_and_see_only_theirs(client, viewer, operator):
    from driftcontrol import tokens

    mine, _ = tokens.create(viewer, "mine", "read")
    theirs, _ = tokens.create(operator, "theirs", "write")
    client.force_login(viewer)

    page = client.get(reverse("tokens"))
    assert b"mine" in page.content and b"theirs" not in page.content
    assert client.post(reverse("token-revoke", args=[theirs.pk])).status_code == 404
    client.post(reverse("token-revoke", args=[mine.pk]))

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None


def test_only_admins_manage_webhooks(client, operator):
    client.force_login(operator)

    assert client.get(reverse("webhooks")).status_code == 403
    assert (
        client.post(reverse("webhooks"), {"name": "x", "url": "http://127.0.0.1:9/"}).status_code
        == 403
    )


def test_an_admin_subscribes_changes_redelivers_and_deletes(client, admin_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver is on this machine
    client.force_login(admin_user)

    page = client.post(
        reverse("webhooks"),
        {
            "name": "tickets",
            "url": "http://127.0.0.1:9/hook",
            "active": "on",
            "event_types": ["finding.opened", "finding.resolved"],
        },
    )

    assert page.status_code == 200
    secret = page.context["secret"]
    assert len(secret) >= 16 and secret.encode() in page.content
    subscription = WebhookSubscription.objects.get(name="tickets")
    assert subscription.event_types == ["finding.opened", "finding.resolved"]

    client.post(
        reverse("webhook", args=[subscription.pk]),
        {"name": "tickets", "url": "http://127.0.0.1:9/hook", "event_types": ["*"]},
    )
    subscription.refresh_from_db()
    assert (subscription.event_types, subscription.active) == (["*"], False)
    subscription.active = True
    subscription.save()

    from driftcontrol.outbox import publish

    publish("finding.opened", {"finding": {"id": 1}})
    webhooks.dispatch_pending()
    delivery = WebhookDelivery.objects.get()
    detail = client.get(reverse("webhook", args=[subscription.pk]))
    assert b"finding.opened" in detail.content and b"Send again" in detail.content
    client.post(reverse("webhook-redeliver", args=[subscription.pk, delivery.pk]))
    assert WebhookDelivery.objects.filter(redelivery_of=delivery).count() == 1

    client.post(reverse("webhook-delete", args=[subscription.pk]))
    assert not WebhookSubscription.objects.exists()
    assert OutboxEvent.objects.count() == 1
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "webhook.created",
        "webhook.updated",
        "webhook.redelivery_requested",
        "webhook.deleted",
    }


def test_a_refused_subscription_says_why_and_keeps_nothing(client, admin_user):
    client.force_login(admin_user)

    page = client.post(
        reverse("webhooks"),
        {
            "name": "local",
            "url": "http://127.0.0.1/x",
            "event_types": ["scan.failed"],
            "active": "on",
        },
    )

    assert page.status_code == 400
    assert b"url:" in page.content
    assert not WebhookSubscription.objects.exists()


def test_a_token_name_too_long_is_refused_not_cut(client, viewer):
    client.force_login(viewer)

    page = client.post(reverse("tokens"), {"name": "x" * 300, "scope": "read", "lifetime": "30"})

    assert page.status_code == 400
    assert b"at most 100 characters" in page.content
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("name", "x" * 101), ("description", "x" * 2001)])
def test_webhook_text_too_long_is_refused_on_the_page(client, admin_user, settings, field, value):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    client.force_login(admin_user)
    given = {"name": "tickets", "url": "http://127.0.0.1:9/hook", "event_types": ["*"]}

    page = client.post(reverse("webhooks"), {**given, field: value})

    assert page.status_code == 400
    assert b"use at most" in page.content
    assert not WebhookSubscription.objects.exists()
