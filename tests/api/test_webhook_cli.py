"""`drift webhook ...`: the same services as the API, from a shell on the server."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from driftcontrol.models import AuditEvent, WebhookSubscription

pytestmark = pytest.mark.django_db


def drift(*args: str) -> str:
    out = StringIO()
    call_command("drift", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_subscription_is_added_listed_changed_and_removed(private_targets, receiver):
    added = drift(
        "webhook",
        "add",
        "jira",
        "--url",
        receiver.url,
        "--events",
        "finding.opened,finding.resolved",
    )

    assert "secret: " in added
    assert "jira" in drift("webhook", "list")
    drift("webhook", "update", "jira", "--active", "no", "--events", "*")
    subscription = WebhookSubscription.objects.get()
    assert (subscription.active, subscription.event_types) == (False, ["*"])
    drift("webhook", "remove", "jira")
    assert not WebhookSubscription.objects.exists()
    assert list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True)) == [
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
    ]


def test_the_command_line_refuses_private_targets_too():
    with pytest.raises(CommandError, match="loopback"):
        drift("webhook", "add", "x", "--url", "http://127.0.0.1:9/", "--events", "*")


def test_beat_dispatches_webhooks_every_few_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["webhooks-dispatch"]

    assert entry == {"task": "webhooks.dispatch", "schedule": 5.0}
    assert "worker-heartbeat" in settings.CELERY_BEAT_SCHEDULE
