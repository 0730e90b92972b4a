"""Score, MTTD/MTTR and rollups, on hand-made findings whose answers are known."""

from datetime import timedelta

import pytest
from django.utils import timezone

from drift.models import DailyRollup, FindingStatus, RollupScope, Scan
from drift.services import analytics
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory, LaneFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def east():
    cluster = ClusterFactory(name="east")
    cluster.lanes.add(LaneFactory(name="controlled"))
    return cluster


@pytest.fixture
def policy(east):
    policy = DriftPolicyFactory(name="shop")
    Scan.objects.create(policy=policy, cluster=east, status="succeeded", objects_desired=10)
    return policy


def test_the_score_follows_the_documented_formula(east, policy):
    FindingFactory(cluster=east, policy=policy, severity="critical")
    FindingFactory(cluster=east, policy=policy, severity="low", status=FindingStatus.ACKNOWLEDGED)
    FindingFactory(cluster=east, policy=policy, severity="high", status=FindingStatus.SUPPRESSED)
    FindingFactory(cluster=east, policy=policy, severity="high", status=FindingStatus.RESOLVED)

    score = analytics.score(RollupScope.CLUSTER, east.pk)

    # 10 objects: critical 10 + low 1 = 11 of 100 points; suppressed and resolved are free.
    assert (score.value, score.objects, score.penalty) == (89.0, 10, 11)
    assert [(c["severity"], c["points"]) for c in score.costs] == [("critical", 10.0), ("low", 1.0)]
    assert analytics.score(RollupScope.LANE, east.lanes.get().pk).value == 89.0
    assert analytics.score().value == 89.0


def test_the_score_floors_at_zero(east, policy):
    for _ in range(20):
        FindingFactory(cluster=east, policy=policy, severity="critical")

    assert analytics.score(RollupScope.CLUSTER, east.pk).value == 0.0


def test_mttd_and_mttr_are_median_and_p90(east, policy):
    now = timezone.now()
    for minutes in (1, 2, 3, 4, 100):
        FindingFactory(
            cluster=east,
            policy=policy,
            first_seen=now - timedelta(hours=1),
            drift_started_at=now - timedelta(hours=1, minutes=minutes),
            resolved_at=now - timedelta(hours=1) + timedelta(minutes=10 * minutes),
            status=FindingStatus.RESOLVED,
        )

    detect = analytics.mttd(now - timedelta(days=1), now)
    repair = analytics.mttr(now - timedelta(days=1), now + timedelta(days=1))

    assert (detect.median, detect.count) == (180.0, 5)
    assert detect.p90 == pytest.approx(6000 * 0.6 + 240 * 0.4)  # interpolated, like PostgreSQL
    assert repair.median == 1800.0


def test_a_rollup_counts_what_opened_was_resolved_and_stayed_open(east, policy):
    today = timezone.localdate()
    start = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    FindingFactory(cluster=east, policy=policy, severity="high", first_seen=start)
    FindingFactory(
        cluster=east,
        policy=policy,
        severity="medium",
        first_seen=start - timedelta(days=3),
        status=FindingStatus.RESOLVED,
        resolved_at=start,
    )

    assert analytics.rollup(today) == 4  # fleet, cluster, lane, policy

    row = DailyRollup.objects.get(scope=RollupScope.CLUSTER, scope_id=east.pk, day=today)
    assert (row.opened, row.resolved, row.open_high, row.open_medium) == (1, 1, 1, 0)
    assert (row.objects_in_scope, row.score) == (10, 95.0)
    lane = DailyRollup.objects.get(scope=RollupScope.LANE, day=today)
    assert (lane.scope_name, lane.open_high) == ("controlled", 1)


def test_recomputing_a_day_replaces_its_rows(east, policy):
    today = timezone.localdate()
    analytics.rollup(today)
    FindingFactory(cluster=east, policy=policy, severity="critical")

    analytics.rollup(today)

    assert DailyRollup.objects.filter(day=today).count() == 4
    assert DailyRollup.objects.get(scope=RollupScope.FLEET, day=today).open_critical == 1
