"""Queueing scans (drift.services.scanning): request() and its de-duplication, the
scheduler's dispatch_due() and the reaper. Running a scan needs a cluster: not here."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from drift.models import Cluster, DriftPolicy, Scan, ScanStatus, ScanTrigger
from drift.models.scans import ScanQuerySet
from drift.services import scanning
from driftcontrol.models import AuditEvent, OutboxEvent
from tests.factories import ClusterFactory, DriftPolicyFactory, ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(tasks) -> list[object]:
    """Scan ids handed to Celery (never to a real broker)."""
    return tasks.queued("scans.run")


@pytest.fixture
def cluster() -> Cluster:
    return ClusterFactory(name="prod-eu", labels={"env": "prod"})


@pytest.fixture
def policy(cluster: Cluster) -> DriftPolicy:
    return DriftPolicyFactory(name="shop", cluster_names=[cluster.name], interval_seconds=300)


def aged(scan: Scan, **ago: float) -> Scan:
    """Move a scan's creation into the past (auto_now_add cannot be set on create)."""
    Scan.objects.filter(pk=scan.pk).update(created_at=timezone.now() - timedelta(**ago))
    scan.refresh_from_db()
    return scan


def pairs(scans: Any = None) -> set[tuple[str, str]]:
    rows = Scan.objects.all() if scans is None else scans
    return {(s.policy.name, s.cluster.name) for s in rows}


# --- request -----------------------------------------------------------------------------


def test_a_requested_scan_is_queued_and_sent_once_the_transaction_commits(
    policy: DriftPolicy,
    cluster: Cluster,
    operator: Any,
    sent: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        scan, created = scanning.request(policy, cluster, ScanTrigger.MANUAL, user=operator)
        assert sent == []  # not before the scan row is visible to a worker

    assert created
    assert (scan.status, scan.trigger, scan.requested_by) == ("queued", "manual", operator)
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [scan.pk]
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.actor_user) == ("scan.requested", "oscar", operator)
    assert (event.object_type, event.object_id) == ("drift.scan", str(scan.pk))
    assert event.data == {"policy": "shop", "cluster": "prod-eu", "trigger": "manual"}


@pytest.mark.parametrize("status", [ScanStatus.QUEUED, ScanStatus.RUNNING])
def test_a_second_request_returns_the_active_scan_of_the_pair(
    policy: DriftPolicy,
    cluster: Cluster,
    operator: Any,
    sent: list[int],
    django_capture_on_commit_callbacks: Any,
    status: str,
) -> None:
    active = ScanFactory(policy=policy, cluster=cluster, status=status, trigger="schedule")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        scan, created = scanning.request(policy, cluster, ScanTrigger.MANUAL, user=operator)

    assert (scan, created) == (active, False)
    assert Scan.objects.count() == 1
    assert callbacks == [] and sent == []
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("status", [ScanStatus.SUCCEEDED, ScanStatus.FAILED])
def test_a_finished_scan_does_not_stop_a_new_one(
    policy: DriftPolicy, cluster: Cluster, sent: list[int], status: str
) -> None:
    finished = ScanFactory(policy=policy, cluster=cluster, status=status)

    scan, created = scanning.request(policy, cluster)

    assert created and scan != finished
    assert Scan.objects.running().get() == scan


def test_each_pair_has_its_own_active_scan(policy: DriftPolicy, cluster: Cluster) -> None:
    other_cluster = ClusterFactory(name="prod-us")
    other_policy = DriftPolicyFactory(name="platform")

    results = [
        scanning.request(policy, cluster),
        scanning.request(policy, other_cluster),
        scanning.request(other_policy, cluster),
    ]

    assert [created for _, created in results] == [True, True, True]
    assert pairs() == {("shop", "prod-eu"), ("shop", "prod-us"), ("platform", "prod-eu")}


def test_the_database_refuses_a_second_active_scan_of_a_pair(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    Scan.objects.create(policy=policy, cluster=cluster, status=ScanStatus.RUNNING)

    for status in (ScanStatus.QUEUED, ScanStatus.RUNNING):
        with pytest.raises(IntegrityError, match="scan_one_active_per_pair"), transaction.atomic():
            Scan.objects.create(policy=policy, cluster=cluster, status=status)
    # History is not limited.
    Scan.objects.create(policy=policy, cluster=cluster, status=ScanStatus.SUCCEEDED)
    Scan.objects.create(policy=policy, cluster=cluster, status=ScanStatus.FAILED)
    assert Scan.objects.count() == 3


def test_a_request_that_loses_the_race_returns_the_winners_scan(
    policy: DriftPolicy,
    cluster: Cluster,
    sent: list[int],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    winner = ScanFactory(policy=policy, cluster=cluster, trigger="api")
    # The loser's check ran before the winner's row was committed: it saw no active scan.
    running = ScanQuerySet.running
    checks: list[bool] = []

    def blind_first_time(self: ScanQuerySet) -> ScanQuerySet:
        checks.append(True)
        return self.none() if len(checks) == 1 else running(self)

    monkeypatch.setattr(ScanQuerySet, "running", blind_first_time)

    with django_capture_on_commit_callbacks(execute=True):
        scan, created = scanning.request(policy, cluster, actor="system:test")

    assert len(checks) == 2  # the blind check, then the look-up after the refused insert
    assert (scan, created) == (winner, False)
    assert Scan.objects.count() == 1
    assert sent == []
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_a_pair_queue_exactly_one_scan(sent: list[int]) -> None:
    policy = DriftPolicyFactory(name="shop")
    cluster = ClusterFactory(name="prod-eu")
    start = threading.Barrier(6)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            start.wait(timeout=10)
            scan, created = scanning.request(policy, cluster, ScanTrigger.API)
            results.append((scan.pk, created))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    scan = Scan.objects.get()
    assert sorted(results) == [(scan.pk, False)] * 5 + [(scan.pk, True)]
    assert sent == [scan.pk]


def test_a_system_request_is_audited_only_when_it_names_an_actor(
    policy: DriftPolicy, cluster: Cluster, sent: list[int]
) -> None:
    scheduled, _ = scanning.request(policy, cluster, ScanTrigger.SCHEDULE)
    Scan.objects.filter(pk=scheduled.pk).update(status=ScanStatus.SUCCEEDED)

    pushed, _ = scanning.request(policy, cluster, ScanTrigger.GIT_PUSH, actor="hook:deploy")

    event = AuditEvent.objects.get()
    assert (event.actor, event.object_id) == ("hook:deploy", str(pushed.pk))
    assert event.data["trigger"] == "git-push"
    assert pushed.requested_by is None


def test_a_scan_requested_without_enqueue_is_not_sent(
    policy: DriftPolicy, cluster: Cluster, sent: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        scan, created = scanning.request(policy, cluster, enqueue=False, actor="cli:root")

    assert created and scan.status == "queued"
    assert callbacks == [] and sent == []


# --- dispatch_due ------------------------------------------------------------------------


def test_it_queues_a_scheduled_scan_for_every_targeted_pair_never_scanned(
    sent: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    ClusterFactory(name="prod-eu", labels={"env": "prod"})
    ClusterFactory(name="prod-us", labels={"env": "prod"})
    ClusterFactory(name="lab", labels={"env": "lab"})
    ClusterFactory(name="retired", labels={"env": "prod"}, enabled=False)
    DriftPolicyFactory(name="shop", cluster_names=["lab", "retired", "gone"])
    DriftPolicyFactory(name="platform", cluster_selector={"matchLabels": {"env": "prod"}})
    DriftPolicyFactory(
        name="mixed",
        cluster_names=["lab"],
        cluster_selector={
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]
        },
    )
    DriftPolicyFactory(name="paused", cluster_names=["lab"], enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        queued = scanning.dispatch_due()

    assert pairs() == {
        ("shop", "lab"),
        ("platform", "prod-eu"),
        ("platform", "prod-us"),
        ("mixed", "lab"),
        ("mixed", "prod-eu"),
        ("mixed", "prod-us"),
    }
    assert queued == 6
    assert {s.trigger for s in Scan.objects.all()} == {"schedule"}
    assert sorted(sent) == sorted(Scan.objects.values_list("pk", flat=True))
    assert not AuditEvent.objects.exists()


def test_it_waits_for_the_interval_since_the_last_scan_of_each_pair(
    policy: DriftPolicy, cluster: Cluster, sent: list[int]
) -> None:
    stale = ClusterFactory(name="prod-us")
    policy.cluster_names = ["prod-eu", "prod-us"]
    policy.save()
    # The latest scan counts, not an older one.
    aged(ScanFactory(policy=policy, cluster=cluster, status="succeeded"), seconds=3600)
    aged(ScanFactory(policy=policy, cluster=cluster, status="failed"), seconds=200)
    aged(ScanFactory(policy=policy, cluster=stale, status="succeeded"), seconds=310)
    # Another policy's scans of the same cluster do not count for this one.
    aged(ScanFactory(cluster=stale, status="succeeded"), seconds=5)

    assert scanning.dispatch_due() == 1

    fresh = Scan.objects.get(status=ScanStatus.QUEUED)
    assert (fresh.policy, fresh.cluster, fresh.trigger) == (policy, stale, "schedule")
    assert scanning.dispatch_due() == 0


def test_a_pair_whose_scan_is_still_queued_gets_no_second_one(
    policy: DriftPolicy, cluster: Cluster, sent: list[int]
) -> None:
    waiting = aged(ScanFactory(policy=policy, cluster=cluster), seconds=900)

    assert scanning.dispatch_due() == 0

    assert list(Scan.objects.all()) == [waiting]


def test_a_disabled_cluster_or_policy_is_not_scheduled(
    policy: DriftPolicy, cluster: Cluster, sent: list[int]
) -> None:
    Cluster.objects.update(enabled=False)
    assert scanning.dispatch_due() == 0

    Cluster.objects.update(enabled=True)
    DriftPolicy.objects.update(enabled=False)
    assert scanning.dispatch_due() == 0
    assert not Scan.objects.exists()


# --- reap --------------------------------------------------------------------------------


def test_it_fails_running_scans_whose_worker_went_silent(sent: list[int]) -> None:
    now = timezone.now()
    lost = ScanFactory(
        policy__name="shop",
        cluster__name="prod-eu",
        status=ScanStatus.RUNNING,
        heartbeat_at=now - timedelta(minutes=11),
    )
    alive = ScanFactory(status=ScanStatus.RUNNING, heartbeat_at=now - timedelta(minutes=9))
    done = ScanFactory(status=ScanStatus.SUCCEEDED, heartbeat_at=now - timedelta(hours=1))

    assert scanning.reap() == 1

    lost.refresh_from_db()
    assert lost.status == "failed"
    assert lost.error == "the worker stopped reporting progress (lost or killed)"
    assert lost.finished_at is not None
    alive.refresh_from_db()
    done.refresh_from_db()
    assert (alive.status, done.status) == ("running", "succeeded")
    assert [(e.event_type, e.payload) for e in OutboxEvent.objects.all()] == [
        (
            "scan.failed",
            {"scan": lost.pk, "policy": "shop", "cluster": "prod-eu", "error": "worker lost"},
        )
    ]
    assert sent == []
    assert scanning.reap() == 0  # already failed: not reported twice
    assert OutboxEvent.objects.count() == 1


def test_a_reaped_scan_no_longer_blocks_its_pair(
    policy: DriftPolicy, cluster: Cluster, sent: list[int]
) -> None:
    lost = ScanFactory(
        policy=policy,
        cluster=cluster,
        status=ScanStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(minutes=30),
    )
    assert scanning.request(policy, cluster) == (lost, False)

    scanning.reap()

    scan, created = scanning.request(policy, cluster)
    assert created and scan != lost


def test_it_sends_again_scans_that_stayed_queued_too_long(sent: list[int]) -> None:
    lost_message = aged(ScanFactory(), minutes=6)
    aged(ScanFactory(), minutes=2)
    aged(ScanFactory(status=ScanStatus.FAILED), minutes=60)

    assert scanning.reap() == 0

    assert sent == [lost_message.pk]
    lost_message.refresh_from_db()
    assert lost_message.status == "queued"
