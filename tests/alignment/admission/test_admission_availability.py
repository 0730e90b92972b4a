"""Whether the webhook could answer a cluster at a moment: installed then, and a `drift
admission serve` running (from its start to its stop, or a few heartbeats past the last
one of a server that died)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alignment.admission.availability import timeline, unavailable_at
from alignment.models import AdmissionInstallation, AdmissionServer
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(autouse=True)
def _heartbeat(settings):
    settings.ADMISSION_HEARTBEAT_SECONDS = 2  # a server silent 6 s is gone


@pytest.fixture
def cluster():
    return ClusterFactory(name="prod")


def installed(cluster, start, end=None, mode="deny"):
    return AdmissionInstallation.objects.create(
        cluster=cluster,
        name="driftcontrol-admission",
        url="https://admission.example.com/validate/prod",
        mode=mode,
        installed_at=start,
        removed_at=end,
    )


def served(start, seen, stopped=None):
    return AdmissionServer.objects.create(
        address="0.0.0.0:9443", started_at=start, seen_at=seen, stopped_at=stopped
    )


def test_nothing_is_said_where_the_webhook_was_not_installed(cluster):
    installed(cluster, at(10), at(20))

    assert unavailable_at(cluster, at(5)) is None
    assert unavailable_at(cluster, at(20)) is None  # removed then
    assert unavailable_at(cluster, at(30)) is None


def test_installed_and_served_is_available(cluster):
    installed(cluster, at(0))
    served(at(-5), at(60), stopped=at(60))

    assert unavailable_at(cluster, at(30)) is None
    assert unavailable_at(cluster, at(60)) is None


def test_a_server_stopped_before_the_change_leaves_it_unjudged_and_says_since_when(cluster):
    installed(cluster, at(0))
    served(at(-5), at(10), stopped=datetime(2026, 3, 2, 9, 10, 3, tzinfo=UTC))

    said = unavailable_at(cluster, at(12))

    assert said == (
        "the admission webhook was installed but not answering (no answer since 09:10:03 UTC)"
    )


def test_a_server_that_died_answered_until_three_heartbeats_after_it_was_last_seen(cluster):
    installed(cluster, at(0))
    last_seen = at(10)
    served(at(-5), last_seen)  # never said it stopped

    assert unavailable_at(cluster, last_seen + timedelta(seconds=5)) is None
    assert "no answer since 09:10:00 UTC" in unavailable_at(
        cluster, last_seen + timedelta(seconds=7)
    )


def test_a_running_server_covers_the_moment_just_after_its_last_heartbeat(cluster):
    installed(cluster, at(0))
    served(at(-5), at(10))

    assert unavailable_at(cluster, at(10) + timedelta(seconds=1)) is None


def test_installed_with_no_server_ever_names_the_installation(cluster):
    installed(cluster, at(0))
    served(at(-60), at(-30), stopped=at(-30))  # ran before the webhook was installed

    said = unavailable_at(cluster, at(5))

    assert said is not None
    assert "no answer since it was installed at 09:00:00 UTC" in said


def test_a_gap_between_two_server_runs(cluster):
    installed(cluster, at(0))
    served(at(0), at(10), stopped=at(10))
    served(at(20), at(30), stopped=at(30))

    assert unavailable_at(cluster, at(5)) is None
    assert "no answer since 09:10:00 UTC" in unavailable_at(cluster, at(15))
    assert unavailable_at(cluster, at(25)) is None


def test_an_earlier_day_is_named_with_its_date(cluster):
    installed(cluster, at(-3000))
    served(at(-3000), at(-2000), stopped=at(-2000))

    said = unavailable_at(cluster, at(5))

    assert said is not None
    assert "no answer since 2026-02-28 23:40:00 UTC" in said


def test_another_clusters_installation_says_nothing_here(cluster):
    installed(ClusterFactory(name="staging"), at(0))

    assert unavailable_at(cluster, at(5)) is None


def test_one_timeline_answers_many_moments_in_few_queries(cluster, django_assert_max_num_queries):
    installed(cluster, at(0))
    served(at(0), at(10), stopped=at(10))
    served(at(20), at(30), stopped=at(30))

    with django_assert_max_num_queries(3):
        read = timeline(cluster, at(1), at(29))
        gaps = [read.gap(at(minute)) for minute in range(1, 30)]

    assert [minute for minute, gap in zip(range(1, 30), gaps, strict=True) if gap] == list(
        range(11, 20)
    )
