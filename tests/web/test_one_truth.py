"""One truth: for one dataset, every page and API answer that shows a score, an open-drift
count or penalty points shows the same number under the same label, and a day's rollup
agrees with the live figure computed at the same moment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from drift.models import DailyRollup, RollupScope
from drift.services import analytics
from tests.api.conftest import token_for
from tests.factories import ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(east: Any, west: Any, shop: Any, make_finding: Any) -> dict[str, Any]:
    now, week = timezone.now(), timedelta(days=7)
    ScanFactory(policy=shop, cluster=east, status="succeeded", objects_desired=20, finished_at=now)
    ScanFactory(policy=shop, cluster=west, status="succeeded", objects_desired=30, finished_at=now)
    findings = {
        "critical": make_finding(name="db", severity="critical"),
        "acknowledged": make_finding(name="api", severity="high", status="acknowledged"),
        # Suppressed (accepted) for a week, as the triage service stores it: counted nowhere.
        "suppressed": make_finding(
            name="cache", severity="low", status="suppressed", suppressed_until=now + week
        ),
        "west": make_finding(name="web", severity="medium", cluster=west),
    }
    analytics.rollup(timezone.localdate())
    return findings


def context_of(client: Any, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.context


def row_of(context: Any, key: str, name: str) -> dict[str, Any]:
    [row] = [r for r in context["rows"] if getattr(r[key], "name", None) == name]
    return row


def test_scores_and_open_drift_agree_on_every_page_and_the_api(
    client: Any, viewer: Any, fleet: dict[str, Any], lane: Any
) -> None:
    client.force_login(viewer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(viewer)}")
    clusters = context_of(client, reverse("clusters"))
    lanes = context_of(client, reverse("lanes"))
    policies = context_of(client, reverse("policies"))

    for scope, name, listed in (
        (RollupScope.CLUSTER, "east", row_of(clusters, "cluster", "east")),
        (RollupScope.CLUSTER, "west", row_of(clusters, "cluster", "west")),
        (RollupScope.LANE, "fast", row_of(lanes, "lane", "fast")),
        (RollupScope.POLICY, "shop", row_of(policies, "policy", "shop")),
    ):
        summary = api.get("/api/v1/summary/", {"scope": scope, "name": name}).json()["score"]
        rollup = DailyRollup.objects.get(scope=scope, scope_name=name, day=timezone.localdate())
        rolled_open = sum(getattr(rollup, f"open_{s}") for s in analytics.WEIGHTS)
        assert listed["score"].value == summary["value"] == rollup.score, name
        assert listed["open_total"] == sum(summary["by_severity"].values()) == rolled_open, name
        assert listed["score"].penalty == summary["penalty"], name
    east = context_of(client, reverse("cluster", args=["east"]))
    assert east["score"].value == row_of(clusters, "cluster", "east")["score"].value
    assert sum(s["n"] for s in east["open"]) == 2  # open and acknowledged; suppressed is not


def test_the_fleet_figures_agree_and_points_have_one_unit(
    client: Any, viewer: Any, fleet: dict[str, Any]
) -> None:
    client.force_login(viewer)

    overview = context_of(client, "/")
    east = context_of(client, reverse("cluster", args=["east"]))
    listed = context_of(client, reverse("findings") + "?status=open&status=acknowledged")
    rollup = DailyRollup.objects.get(scope=RollupScope.FLEET, day=timezone.localdate())

    assert overview["score"].value == rollup.score
    assert overview["open_total"] == listed["page"].counted == 3
    # Penalty points are the severity's weight wherever a finding is listed...
    on_overview = {c["id"]: c["points"] for c in overview["score_worst"]}
    on_cluster = {c["id"]: c["points"] for c in east["score"].costs}
    assert on_overview[fleet["critical"].pk] == on_cluster[fleet["critical"].pk] == 10
    # ... and the rows add up to the scope's penalty when all are listed.
    assert sum(on_overview.values()) == overview["score"].penalty == 10 + 5 + 2
    assert sum(on_cluster.values()) == east["score"].penalty == 10 + 5
    # A fleet with no other objects scores between its clusters.
    scores = sorted(analytics.scores(RollupScope.CLUSTER).values(), key=lambda s: s.value)
    assert scores[0].value <= overview["score"].value <= scores[-1].value
