"""Open violations per rule and day (alignment.trends), from when findings opened and
resolved: exact counts on known days, the cluster and lane filters, suppressed ones left
out, and a handful of queries whatever the period."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from alignment import status, trends
from drift.models import Finding, FindingType, Lane
from tests.factories import AlignmentFindingFactory, ClusterFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 31)
NOW = timezone.make_aware(datetime.combine(TODAY, time(18, 0)))


def at(days_back: int, hour: int = 12) -> datetime:
    """A moment ``days_back`` days before TODAY, at ``hour`` (the current time zone)."""
    return timezone.make_aware(datetime.combine(TODAY - timedelta(days=days_back), time(hour)))


def open_on(trend: trends.Trend) -> dict[int, int]:
    """{days back from TODAY: open}, for the days with any."""
    return {(TODAY - day).days: n for day, n in trend.points if n}


@pytest.fixture
def east() -> Any:
    controlled = Lane.objects.create(name="controlled", namespaces=["shop", "payments-*"])
    fast = Lane.objects.create(name="fast", namespaces=["dev-*"])
    cluster = ClusterFactory(name="east")
    cluster.lanes.add(controlled, fast)
    return cluster


def violation(east: Any, opened: datetime, resolved: datetime | None = None, **fields: Any) -> Any:
    fields.setdefault("cluster", east)
    if resolved is not None:
        fields.update(status="resolved", resolved_at=resolved)
    return AlignmentFindingFactory(first_seen=opened, **fields)


def alignment() -> Any:
    return Finding.objects.filter(type=FindingType.ALIGNMENT)


def test_it_counts_a_violation_on_each_day_it_was_open_at_the_days_end(east: Any) -> None:
    violation(east, opened=at(10), resolved=at(3))

    trend = trends.open_per_day(alignment(), TODAY)["lane.secret"]

    assert trend.days[0] == TODAY - timedelta(days=29) and trend.days[-1] == TODAY
    assert open_on(trend) == dict.fromkeys(range(4, 11), 1)  # resolved 3 days back, at noon


def test_what_opened_before_the_period_counts_from_its_first_day(east: Any) -> None:
    violation(east, opened=at(45))  # still open
    violation(east, opened=at(40), resolved=at(20))
    violation(east, opened=at(50), resolved=at(35))  # over before the period began

    trend = trends.open_per_day(alignment(), TODAY)["lane.secret"]

    assert open_on(trend) == {**dict.fromkeys(range(21, 30), 2), **dict.fromkeys(range(0, 21), 1)}


def test_a_day_counts_what_opened_until_its_last_minute(east: Any) -> None:
    violation(east, opened=at(2, hour=0))
    violation(east, opened=timezone.make_aware(datetime.combine(TODAY, time(23, 59))))
    violation(east, opened=at(5), resolved=at(5, hour=23))  # opened and resolved the same day

    trend = trends.open_per_day(alignment(), TODAY)["lane.secret"]

    assert open_on(trend) == {2: 1, 1: 1, 0: 2}


def test_rules_have_lines_of_their_own_and_the_week_in_words(east: Any) -> None:
    for days_back in (12, 6, 2):
        violation(east, opened=at(days_back))
    violation(east, opened=at(20), resolved=at(4), rule="refs.secret", name="api")
    violation(east, opened=at(20), rule="refs.secret", name="worker")

    found = trends.open_per_day(alignment(), TODAY)

    assert sorted(found) == ["lane.secret", "refs.secret"]
    secret, refs = found["lane.secret"], found["refs.secret"]
    assert secret.open[-1] == 3 and secret.open[-8] == 1  # a week ago: only the first
    assert secret.this_week == 2 and secret.words == "+2 this week"
    assert refs.open[-1] == 1 and refs.this_week == -1 and refs.words == "\N{MINUS SIGN}1 this week"


def test_a_rule_without_violations_in_the_period_has_no_line(east: Any) -> None:
    violation(east, opened=at(60), resolved=at(40))

    assert trends.open_per_day(alignment(), TODAY) == {}


def test_the_page_narrows_the_trend_to_a_lane_and_a_cluster(east: Any) -> None:
    west = ClusterFactory(name="west")
    violation(east, opened=at(9))  # shop: the controlled lane's
    violation(east, opened=at(3), namespace="dev-cart")  # the fast lane's
    violation(east, opened=at(1), namespace="kube-system")  # no lane's
    violation(east, opened=at(5), cluster=west)

    def trend(**scope: str) -> dict[int, int]:
        states = {s.rule.id: s for s in status.rule_states(NOW, **scope)}
        return open_on(states["lane.secret"].trend)

    assert trend(lane="controlled") == dict.fromkeys(range(0, 10), 1)
    assert trend(lane="fast") == dict.fromkeys(range(0, 4), 1)
    assert trend(cluster="west") == dict.fromkeys(range(0, 6), 1)
    assert trend(cluster="east") == {
        **dict.fromkeys(range(4, 10), 1),
        **dict.fromkeys(range(2, 4), 2),
        **dict.fromkeys(range(0, 2), 3),
    }


def test_a_violation_suppressed_now_is_left_out_as_the_open_count_leaves_it(east: Any) -> None:
    violation(east, opened=at(4), status="acknowledged")
    violation(east, opened=at(8), status="suppressed", name="accepted")

    state = next(s for s in status.rule_states(NOW) if s.rule.id == "lane.secret")

    assert state.open == 1
    assert open_on(state.trend) == dict.fromkeys(range(0, 5), 1)


def test_every_rule_gets_a_trend_passing_ones_a_flat_line(east: Any) -> None:
    states = status.rule_states(NOW)

    assert all(len(s.trend.open) == trends.DAYS and not s.trend.any_open for s in states)
    assert states[0].trend.words == "no change this week"


def test_a_few_queries_whatever_the_rules_and_days(
    east: Any, django_assert_num_queries: Any
) -> None:
    for rule in ("lane.secret", "refs.secret", "refs.configmap"):
        for days_back in (40, 25, 12, 1):
            violation(east, opened=at(days_back), resolved=at(days_back - 1), rule=rule)

    with django_assert_num_queries(3):  # open before the period; opened, resolved per day
        found = trends.open_per_day(alignment(), TODAY, days=60)

    assert len(found) == 3 and all(max(t.open) == 1 for t in found.values())
