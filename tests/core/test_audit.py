"""The audit log is append-only and hash-chained; `verify` names the first broken event."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from driftcontrol import audit
from driftcontrol.models import AuditEvent
from driftcontrol.models.audit import AppendOnly
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(admin_user):
    cluster = ClusterFactory(name="east")
    for index in range(5):
        audit.record(admin_user, "cluster.updated", cluster, {"step": index, "ratio": 0.5})
    return list(AuditEvent.objects.order_by("sequence"))


def tamper(sql, params):
    """What someone with direct database rights could do: bypass the append-only trigger."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def test_each_event_links_to_the_previous_one(chain):
    assert chain[0].prev_hash == audit.GENESIS
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert [e.sequence for e in chain] == [1, 2, 3, 4, 5]
    assert audit.verify().ok


def test_it_names_the_actor_object_and_data(chain, admin_user):
    event = chain[2]

    assert (event.actor, event.actor_user, event.action) == ("ada", admin_user, "cluster.updated")
    assert (event.object_type, event.object_repr, event.data) == (
        "drift.cluster",
        "east",
        {"step": 2, "ratio": 0.5},
    )


def test_system_actors_are_named_by_string():
    event = audit.record("system:scanner", "scan.started")

    assert (event.actor, event.actor_user, event.object_type) == ("system:scanner", None, "")


def test_changing_one_row_is_detected_at_that_row(chain):
    tamper(
        "UPDATE driftcontrol_auditevent SET data = %s WHERE sequence = 3",
        ['{"step": 99, "ratio": 0.5}'],
    )

    report = audit.verify()

    assert not report.ok
    assert report.broken_at == 3
    assert "content does not match its hash" in report.reason


def test_rewriting_a_row_and_its_hash_breaks_the_next_link(chain):
    forged = AuditEvent.objects.get(sequence=2)
    forged.actor = "mallory"
    forged_hash = audit.event_hash(forged)
    tamper(
        "UPDATE driftcontrol_auditevent SET actor = 'mallory', hash = %s WHERE sequence = 2",
        [forged_hash],
    )

    report = audit.verify()

    assert (report.ok, report.broken_at) == (False, 3)
    assert "link to the previous event" in report.reason


def test_removing_a_row_in_the_middle_is_detected(chain):
    tamper("DELETE FROM driftcontrol_auditevent WHERE sequence = 4", [])

    report = audit.verify()

    assert (report.ok, report.broken_at) == (False, 4)
    assert "event #4 is missing" in report.reason


def test_removing_the_newest_rows_is_detected_through_the_head(chain):
    tamper("DELETE FROM driftcontrol_auditevent WHERE sequence >= 4", [])

    report = audit.verify()

    assert not report.ok
    assert "events were removed from the end" in report.reason


def test_events_cannot_be_changed_or_deleted_through_the_orm(chain):
    event = chain[0]
    event.action = "something.else"

    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()


def test_the_database_refuses_raw_updates_too(chain):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE driftcontrol_auditevent SET actor = 'mallory'")


def test_an_event_rolls_back_with_the_change_it_records(admin_user):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(admin_user, "cluster.deleted")
        raise RuntimeError("the change failed")

    assert not AuditEvent.objects.exists()
    audit.record(admin_user, "cluster.created")
    assert audit.verify().ok  # the rolled-back event left no gap in the chain


def test_the_verify_command_reports_success_and_failure(chain, capsys):
    call_command("drift", "audit", "verify")
    assert "audit chain intact: 5 events verified" in capsys.readouterr().out

    tamper("UPDATE driftcontrol_auditevent SET action = 'x' WHERE sequence = 2", [])
    with pytest.raises(CommandError, match="BROKEN at event #2"):
        call_command("drift", "audit", "verify")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    errors = []

    def write(worker):
        try:
            for index in range(10):
                with transaction.atomic():
                    audit.record(f"system:writer-{worker}", "test.written", None, {"i": index})
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert AuditEvent.objects.count() == 40
    assert audit.verify().ok
