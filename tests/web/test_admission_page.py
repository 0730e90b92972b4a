"""The Admission page: what the admission webhook decided over a period (stacked by
outcome, by lane, by rule), how fast, its latest denies, warnings and break-glass uses,
where it is installed and whether a server answers; narrowed by cluster, lane and outcome;
an empty state that says how to start it; the same queries however much it decided."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from alignment.models import AdmissionInstallation, AdmissionServer, AdmissionTally
from tests.factories import ClusterFactory, LaneFactory
from tests.web.admission_fleet import (
    BREAK_GLASS,
    DEPLOYER_RULE,
    REFUSED,
    admission_fleet,
    decision,
    tally,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet() -> dict[str, Any]:
    return admission_fleet()


def page(client: Any, **query: str) -> Any:
    response = client.get(reverse("admission"), query)
    assert response.status_code == 200
    return response


def test_the_page_counts_the_period_by_outcome_lane_and_rule(
    client: Any, viewer: Any, fleet: Any
) -> None:
    client.force_login(viewer)

    found = page(client).context["summary"]

    assert found.outcomes.outcomes == {"allow": 60, "warn": 2, "deny": 3, "break-glass": 1}
    assert found.outcomes.dry_runs == 2
    assert [(c.name, c.total, c.held) for c in found.lanes] == [
        ("controlled", 46, 6),
        ("fast", 20, 0),
    ]
    assert [(c.name, c.outcomes) for c in found.rules] == [
        (DEPLOYER_RULE, {"warn": 2, "deny": 3, "break-glass": 1}),
        ("lane.registry", {"deny": 3}),
        (BREAK_GLASS, {"break-glass": 1}),
    ]


def test_the_chart_stacks_each_outcome_per_hour_and_per_minute_over_an_hour(
    client: Any, viewer: Any, fleet: Any
) -> None:
    client.force_login(viewer)

    day = page(client).context["chart"]
    hour = page(client, period="1h").context["chart"]
    month = page(client, period="30d").context["chart"]

    assert day["layout"]["barmode"] == "stack"
    assert [t["name"] for t in day["data"]] == ["allow", "warn", "break-glass", "deny"]
    assert sum(sum(t["y"]) for t in day["data"]) == 66
    assert day["layout"]["yaxis"]["title"] == "decisions per hour"
    # Within the hour: one bar per minute that decided something.
    assert len(hour["data"][0]["x"]) == 4
    assert hour["layout"]["yaxis"]["title"] == "decisions per minute"
    assert hour["layout"]["title"]["text"].endswith("by outcome, the last hour")
    assert sum(sum(t["y"]) for t in month["data"]) == 72  # three days ago counts too
    assert month["layout"]["yaxis"]["title"] == "decisions per day"


def test_latency_percentiles_come_from_the_summed_histograms(
    client: Any, viewer: Any, fleet: Any
) -> None:
    client.force_login(viewer)

    response = page(client)

    found = response.context["summary"].latency
    assert found.count == 66
    assert found.percentiles["p50"] is not None and found.percentiles["p50"] <= 1.0
    assert 1.0 < found.percentiles["p99"] <= 50.0
    assert found.percentiles["max"] == 50.0  # the slowest decision fell in (25, 50] ms
    assert dict(response.context["percentiles"])["max"] == "50 ms"


def test_the_page_lists_the_latest_denies_warnings_and_break_glass_uses(
    client: Any, viewer: Any, fleet: Any
) -> None:
    client.force_login(viewer)

    response = page(client)
    text = response.content.decode()

    denies = [row["decision"] for row in response.context["denies"]]
    assert [d.outcome for d in denies] == ["deny"] * 3 + ["warn"] * 2 + ["deny"]
    assert denies[-1].cluster.name == "west"  # three days ago: the lists ignore the period
    glass = response.context["break_glass"]
    assert [row["decision"].user for row in glass] == ["sam"]
    assert glass[0]["object"] == "apps/Deployment shop/web/scale"
    assert "<code>Pod dev-shop/(generated name)</code>" in text
    assert '<span class="badge down">deny</span>' in text
    assert "groups: sre, system:authenticated" in text
    assert "<code>lane.break-glass</code>, <code>lane.deployer</code>" in text
    assert REFUSED in text
    assert "over the last 24 hours: 66 decisions, 6 warned, refused or let through" in text
    assert "?type=alignment&amp;rule=lane.break-glass" in text
    assert 'href="/admission/" aria-current="page">Admission</a>' in text


def test_installations_and_the_server_answering_now(client: Any, viewer: Any, fleet: Any) -> None:
    client.force_login(viewer)

    response = page(client)
    text = response.content.decode()

    installed = {row.cluster: row for row in response.context["summary"].installed}
    assert installed["east"].answering and installed["east"].installation.mode == "warn"
    assert installed["west"].removed and not installed["west"].answering
    assert "<code>https://127.0.0.1:9443/validate/east</code>" in text
    assert "1 server answering now: <code>0.0.0.0:9443</code> on admission-2" in text


def test_with_no_server_answering_the_page_says_since_when(
    client: Any, viewer: Any, fleet: Any
) -> None:
    stopped = timezone.now() - timedelta(minutes=20)
    AdmissionServer.objects.filter(stopped_at=None).update(stopped_at=stopped)
    client.force_login(viewer)

    response = page(client)

    east = next(r for r in response.context["summary"].installed if r.cluster == "east")
    assert not east.answering and east.silent_since == stopped
    assert "No server answering since" in response.content.decode()
    assert "no server answering since" in response.content.decode()


def test_a_server_that_died_without_a_word_stops_answering_after_three_heartbeats(
    client: Any, viewer: Any, fleet: Any, settings: Any
) -> None:
    settings.ADMISSION_HEARTBEAT_SECONDS = 2
    last = timezone.now() - timedelta(seconds=7)
    AdmissionServer.objects.filter(stopped_at=None).update(seen_at=last)
    client.force_login(viewer)

    servers = page(client).context["summary"].servers

    assert not servers.up and servers.last_answered == last


@pytest.mark.parametrize(
    "query, outcomes, lanes, denies",
    [
        ({"cluster": "west"}, {"allow": 20}, ["fast"], 1),
        (
            {"lane": "controlled"},
            {"allow": 40, "warn": 2, "deny": 3, "break-glass": 1},
            ["controlled"],
            5,
        ),  # fmt: skip
        ({"outcome": "deny"}, {"deny": 3}, ["controlled"], 4),
        ({"outcome": "break-glass"}, {"break-glass": 1}, ["controlled"], 0),
        ({"cluster": "west", "period": "7d"}, {"allow": 20, "deny": 1}, ["fast"], 1),
    ],
)
def test_filters_narrow_every_number(
    client: Any, viewer: Any, fleet: Any, query: dict, outcomes: dict, lanes: list, denies: int
) -> None:
    client.force_login(viewer)

    response = page(client, **query)

    counted = response.context["summary"].outcomes.outcomes
    assert {o: n for o, n in counted.items() if n} == outcomes
    assert [c.name for c in response.context["summary"].lanes] == lanes
    assert len(response.context["denies"]) == denies
    if "cluster" in query:
        assert [r.cluster for r in response.context["summary"].installed] == [query["cluster"]]


@pytest.mark.parametrize("query", [{"outcome": "maybe"}, {"period": "1y"}, {"lane": "x\x00"}])
def test_a_bad_filter_is_ignored_and_said(
    client: Any, viewer: Any, fleet: Any, query: dict
) -> None:
    client.force_login(viewer)

    response = page(client, **query)

    assert response.context["summary"].outcomes.total == 66
    assert f"Some filters were ignored: {next(iter(query))}:" in response.content.decode()


def test_nothing_recorded_says_how_to_serve_and_install(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    response = page(client)
    text = response.content.decode()

    assert "The admission webhook has not run yet" in text
    assert "python manage.py drift admission serve --host 0.0.0.0 --port 9443" in text
    assert "python manage.py drift admission install --cluster NAME --mode warn" in text
    assert "drift admission uninstall --cluster NAME" in text
    assert response.context["chart"] is None and "table" not in text.split("<main")[-1]


def test_a_quiet_period_says_so_and_keeps_the_installations(
    client: Any, viewer: Any, fleet: Any
) -> None:
    AdmissionTally.objects.all().delete()
    client.force_login(viewer)

    text = page(client, period="1h").content.decode()

    assert "No decision in this period." in text
    assert "The admission webhook has not run yet" not in text
    assert "/validate/east" in text


def test_every_role_reads_it_and_people_without_one_do_not(
    client: Any, viewer: Any, operator: Any, outsider: Any
) -> None:
    response = client.get(reverse("admission"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")

    for person in (viewer, operator):
        client.force_login(person)
        assert client.get(reverse("admission")).status_code == 200
    client.force_login(outsider)
    assert client.get(reverse("admission")).status_code == 403


def test_the_page_takes_the_same_queries_however_much_was_decided(
    client: Any, viewer: Any, fleet: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(viewer)
    page(client)  # the session is saved once
    with django_assert_max_num_queries(30) as few:
        page(client)
    east = fleet["east"]
    for n in range(30):
        lane = LaneFactory(name=f"lane-{n}")
        tally(east, timedelta(minutes=n), lane.name, "warn", 1)
        decision(east, timedelta(minutes=n), "warn", [f"rule.{n}"], lane=lane.name)
        cluster = ClusterFactory(name=f"c-{n}")
        AdmissionInstallation.objects.create(
            cluster=cluster, name="x", url="https://x/", mode="deny", installed_at=timezone.now()
        )

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(page(client).context["summary"].lanes) == 32


def test_the_chart_is_drawn_from_the_page(client: Any, viewer: Any, fleet: Any) -> None:
    client.force_login(viewer)

    text = page(client).content.decode()

    assert 'aria-label="Decisions of the admission webhook over time' in text
    assert '<div class="plot" data-chart></div>' in text
    assert "&quot;" not in text.split("data-chart></div>")[1].split("</script>")[0]
    assert '"barmode": "stack"' in text
    assert "plotly-basic.min.js" in text
