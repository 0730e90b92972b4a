"""Trends: range and scope selection, all from the daily rollups, never the findings."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


def figures(response: Any) -> dict[str, Any]:
    return response.context["charts"]


def test_thirty_days_by_default_with_every_chart(client: Any, viewer: Any, rollups: Any) -> None:
    client.force_login(viewer)

    response = client.get(reverse("trends"))

    charts = figures(response)
    clusters = {trace["name"]: trace for trace in charts["clusters"]["data"]}
    assert set(clusters) == {"east", "fleet"}
    assert len(clusters["east"]["x"]) == 30
    assert [trace["name"] for trace in charts["lanes"]["data"]] == ["fast"]
    assert [trace["name"] for trace in charts["flow"]["data"]] == ["opened", "resolved"]
    assert charts["timing"]["data"][0]["y"][-1] == round(120 / 3600, 2)  # MTTD today, in hours
    assert [trace["name"] for trace in charts["mix"]["data"]][:2] == ["Critical", "High"]
    assert response.content.decode().count("data-chart") == 5


@pytest.mark.parametrize("days", [7, 90])
def test_the_range_is_chosen(client: Any, viewer: Any, rollups: Any, days: int) -> None:
    client.force_login(viewer)

    response = client.get(f"{reverse('trends')}?days={days}")

    assert response.context["days"] == days
    # The fixture holds 30 days: a 90-day range shows those, a 7-day range 7.
    assert len(figures(response)["flow"]["data"][0]["x"]) == min(days, 30)
    assert f'aria-current="true">{days} days</a>' in response.content.decode()


def test_an_unknown_range_falls_back_to_thirty_days(client: Any, viewer: Any, rollups: Any) -> None:
    client.force_login(viewer)

    assert client.get(f"{reverse('trends')}?days=12").context["days"] == 30


def test_the_detail_charts_follow_the_chosen_scope(client: Any, viewer: Any, rollups: Any) -> None:
    client.force_login(viewer)

    lane = client.get(f"{reverse('trends')}?scope=lane:fast")
    unknown = client.get(f"{reverse('trends')}?scope=cluster:nowhere")

    assert "lane fast" in figures(lane)["flow"]["layout"]["title"]["text"]
    assert unknown.context["scope"] == "fleet"


def test_trends_never_read_the_findings_table(
    client: Any, viewer: Any, rollups: Any, make_finding: Any
) -> None:
    make_finding()
    client.force_login(viewer)

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("trends"))

    assert not [q["sql"] for q in queries if "drift_finding" in q["sql"]]


def test_without_rollups_the_page_says_how_to_get_them(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    text = client.get(reverse("trends")).content.decode()

    assert "No daily rollups in this range yet" in text
    assert "data-chart" not in text


def test_a_range_longer_than_the_history_says_where_the_data_starts(
    client: Any, viewer: Any, rollups: Any
) -> None:
    client.force_login(viewer)

    ninety = client.get(reverse("trends"), {"days": "90"}).content.decode()
    thirty = client.get(reverse("trends"), {"days": "30"}).content.decode()

    assert "Daily rollups start on" in ninety
    assert "show the 30 days of this 90-day range that have data" in ninety
    assert "drift rollups backfill --days 90" in ninety
    assert "Daily rollups start on" not in thirty
