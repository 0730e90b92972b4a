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
