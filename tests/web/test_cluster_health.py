"""Failures in plain sight: a cluster that stopped answering, or whose scans fail, shows on
the overview, the clusters list, its own page and /system/; scores say how old they are
and are marked stale once a policy has missed two intervals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from drift.services import health
from tests.factories import ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def east_down(east: Any, shop: Any) -> Any:
    """east answered 20 minutes ago, and every scan since failed."""
    good = ScanFactory(policy=shop, cluster=east, status="succeeded", finished_at=timezone.now())
    type(good).objects.filter(pk=good.pk).update(
        created_at=timezone.now() - timedelta(minutes=20),
        finished_at=timezone.now() - timedelta(minutes=20),
    )
    failed = ScanFactory(
        policy=shop, cluster=east, status="failed", error="east: connection refused"
    )
    type(east).objects.filter(pk=east.pk).update(
        last_error="east: connection refused",
        last_contact_at=timezone.now() - timedelta(minutes=20),
    )
    return failed


@pytest.fixture
def west_fresh(west: Any, shop: Any) -> Any:
    return ScanFactory(policy=shop, cluster=west, status="succeeded", finished_at=timezone.now())


def test_a_cluster_whose_scans_fail_is_unreachable_stale_and_failing(
    east_down: Any, west_fresh: Any
) -> None:
    fleet = health.fleet()

    east, west = fleet["east"], fleet["west"]
    assert east.state == "unreachable"
    assert east.stale  # 20 minutes > 2 x the 2-minute interval
    assert [p.last_scan_id for p in east.failing_pairs] == [east_down.pk]
    assert east.needs_attention
    assert not west.stale and not west.failing_pairs


def test_a_partial_scan_is_not_a_complete_one(west: Any, shop: Any) -> None:
    ScanFactory(
        policy=shop, cluster=west, status="succeeded", partial=True, finished_at=timezone.now()
    )

    assert health.fleet()["west"].known_as_of is None
    assert health.fleet()["west"].stale


def test_the_overview_names_the_cluster_and_why(
    client: Any, viewer: Any, east_down: Any, west_fresh: Any
) -> None:
    client.force_login(viewer)

    page = client.get("/").content.decode()

    assert "Clusters that need attention" in page
    attention = page.split('id="h-attention"')[1].split("</section>")[0]
    assert "east" in attention and "west" not in attention
    assert "east: connection refused" in attention
    assert reverse("scan", args=[east_down.pk]) in attention
    assert ">stale</span>" in page.split('aria-label="Key figures"')[1]


def test_a_healthy_fleet_shows_no_attention_card(
    client: Any, viewer: Any, west_fresh: Any, east: Any, shop: Any
) -> None:
    ScanFactory(policy=shop, cluster=east, status="succeeded", finished_at=timezone.now())
    client.force_login(viewer)

    page = client.get("/").content.decode()

    assert "Clusters that need attention" not in page
    assert "as of the last complete scan" in page


def test_the_cluster_page_dates_its_score_and_links_the_failed_scan(
    client: Any, viewer: Any, east_down: Any
) -> None:
    client.force_login(viewer)

    page = client.get(reverse("cluster", args=["east"])).content.decode()

    assert "as of the last complete scan, 20\xa0minutes ago" in page
    assert ">stale</span>" in page
    assert f'The last scan of shop failed: <a href="{reverse("scan", args=[east_down.pk])}"' in (
        page
    )


def test_the_clusters_list_and_system_page_show_reachability_and_freshness(
    client: Any, viewer: Any, east_down: Any, west_fresh: Any
) -> None:
    client.force_login(viewer)

    listed = client.get(reverse("clusters")).content.decode()
    system = client.get("/system/").content.decode()

    for page in (listed, system):
        assert '<span class="badge down">unreachable</span>' in page
        assert "east: connection refused" in page
        assert ">stale</span>" in page
    assert "shop: complete scan 20\xa0minutes ago" in system
