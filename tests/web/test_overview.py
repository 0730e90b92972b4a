"""The overview: score, open drift by severity, cluster and lane, MTTD and MTTR, pending
approvals, running scans and recurring drift."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import ClusterFactory, ScanFactory

pytestmark = pytest.mark.django_db


def test_the_overview_shows_the_fleet_at_a_glance(
    client: Any,
    viewer: Any,
    requester: Any,
    east: Any,
    west: Any,
    shop: Any,
    make_finding: Any,
    make_request: Any,
    rollups: Any,
) -> None:
    now = timezone.now()
    ScanFactory(policy=shop, cluster=east, status="succeeded", objects_desired=20)
    running = ScanFactory(
        policy=shop, cluster=west, status="running", progress_done=5, progress_total=10
    )
    web = make_finding(
        name="web",
        severity="critical",
        occurrences=3,
        drift_started_at=now - timedelta(minutes=10),
        first_seen=now - timedelta(minutes=5),
    )
    make_finding(name="api", severity="low", cluster=west)
    make_finding(
        name="old",
        severity="high",
        status="resolved",
        first_seen=now - timedelta(hours=3),
        resolved_at=now - timedelta(hours=1),
    )
    pending = make_request([web], requester)
    client.force_login(viewer)

    response = client.get(reverse("home"))

    text = response.content.decode()
    charts = response.context["charts"]
    assert response.context["score"].value == 94.5  # 10 + 1 penalty points of 20 objects x 10
    assert response.context["open_total"] == 2
    assert charts["severity"]["data"][0]["y"] == [1, 0, 0, 1, 0]
    assert charts["clusters"]["data"][0]["y"] == ["west", "east"]
    assert charts["lanes"]["data"][0]["y"] == ["fast"]
    assert len(charts["trend"]["data"][0]["x"]) == 30
    assert response.context["timings"]["mttd"]["median"] == "5 min"
    assert response.context["timings"]["mttr"]["median"] == "2 h"
    assert f'href="/remediations/{pending.pk}/">#{pending.pk} sync from git</a>' in text
    assert "0 of 1" in text
    assert f'hx-get="/scans/{running.pk}/progress"' in text
    assert 'href="/findings/' + str(web.pk) + '/">Deployment shop/web</a>' in text


def test_many_clusters_show_the_ones_with_the_most_drift(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    for number in range(17):
        cluster = ClusterFactory(name=f"c{number:02d}")
        for _ in range(1 + number % 3):
            make_finding(cluster=cluster)
    client.force_login(viewer)

    figure = client.get(reverse("home")).context["charts"]["clusters"]

    assert len(figure["data"][0]["y"]) == 15
    assert "the 15 with the most (2 more)" in figure["layout"]["title"]["text"]


def test_an_empty_fleet_says_so_instead_of_drawing_nothing(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    text = client.get(reverse("home")).content.decode()

    assert "No daily rollups yet" in text
    assert "No open drift on any cluster." in text
    assert "Nothing waits for approval." in text
    assert "No scan is running." in text
