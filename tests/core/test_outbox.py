import pytest
from django.db import transaction

from driftcontrol.models import OutboxEvent
from driftcontrol.outbox import publish

pytestmark = pytest.mark.django_db


def test_a_published_event_waits_in_the_outbox():
    event = publish("finding.opened", {"finding": 7, "severity": "high"})

    assert list(OutboxEvent.objects.pending()) == [event]
    assert event.payload == {"finding": 7, "severity": "high"}


def test_nothing_is_published_when_the_transaction_rolls_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("finding.opened", {"finding": 7})
        raise RuntimeError("the scan failed after publishing")

    assert not OutboxEvent.objects.exists()


def test_payloads_are_stored_as_plain_json():
    from datetime import UTC, datetime
    from decimal import Decimal

    event = publish("scan.failed", {"at": datetime(2026, 1, 2, tzinfo=UTC), "n": Decimal("1.5")})

    event.refresh_from_db()
    assert event.payload == {"at": "2026-01-02T00:00:00Z", "n": "1.5"}


@pytest.mark.parametrize("bad", ["Finding.Opened", "finding", "finding..opened", "", "a b.c"])
def test_event_types_must_be_dotted_lowercase(bad):
    with pytest.raises(ValueError, match="must be dotted lowercase"):
        publish(bad, {})


def test_old_dispatched_events_are_pruned_but_pending_and_recent_ones_kept():
    from datetime import timedelta

    from django.utils import timezone

    from driftcontrol.outbox import prune

    old = publish("finding.opened", {"finding": 1})
    recent = publish("finding.opened", {"finding": 2})
    waiting = publish("finding.opened", {"finding": 3})
    long_ago = timezone.now() - timedelta(days=40)
    OutboxEvent.objects.filter(pk=old.pk).update(dispatched_at=long_ago)
    OutboxEvent.objects.filter(pk=recent.pk).update(dispatched_at=timezone.now())

    assert prune(timedelta(days=30)) == 1

    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
