"""Scans, summaries, trends and the audit trail, read through the API."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from drift.models import DailyRollup, Scan
from driftcontrol import audit
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory, ScanFactory

pytestmark = pytest.mark.django_db


def test_a_scan_is_started_for_a_pair_the_policy_targets(client_for, operator):
    ClusterFactory(name="east")
    ClusterFactory(name="west")
    DriftPolicyFactory(name="shop", cluster_names=["east"])
    client = client_for(operator)

    started = client.post("/api/v1/scans/", {"policy": "shop", "cluster": "east"}, format="json")
    again = client.post("/api/v1/scans/", {"policy": "shop", "cluster": "east"}, format="json")
    elsewhere = client.post("/api/v1/scans/", {"policy": "shop", "cluster": "west"}, format="json")

    assert (started.status_code, started.json()["status"]) == (202, "queued")
    assert started.json()["trigger"] == "api" and started.json()["requested_by"] == "oscar"
    assert (again.status_code, again.json()["id"]) == (200, started.json()["id"])
    assert elsewhere.status_code == 400
    assert elsewhere.json()["errors"][0]["field"] == "cluster"
    assert Scan.objects.count() == 1


def test_scans_filter_like_the_dashboard(client_for, viewer):
    east = ClusterFactory(name="east")
    wanted = ScanFactory(cluster=east, status="failed")
    ScanFactory(cluster=east, status="succeeded")

    response = client_for(viewer).get("/api/v1/scans/", {"cluster": "east", "status": "failed"})

    assert [s["id"] for s in response.json()["results"]] == [wanted.pk]


def test_the_summary_gives_score_mttd_and_mttr(client_for, viewer):
    east = ClusterFactory(name="east")
    FindingFactory(cluster=east, severity="critical")

    response = client_for(viewer).get("/api/v1/summary/", {"scope": "cluster", "name": "east"})

    body = response.json()
    assert body["scope"] == "cluster" and body["score"]["by_severity"]["critical"] == 1
    assert body["score"]["costs"][0]["cluster"] == "east"
    assert set(body["mttd"]) == {"median", "p90", "count"}


def test_trends_are_the_daily_rollups(client_for, viewer):
    today = date.today()
    for days in (2, 1, 0):
        DailyRollup.objects.create(day=today - timedelta(days=days), scope="fleet", score=90 + days)

    response = client_for(viewer).get("/api/v1/trends/", {"scope": "fleet"})

    assert [row["score"] for row in response.json()["results"]] == [92, 91, 90]


def test_the_audit_trail_pages_by_sequence_and_filters(client_for, viewer):
    for n in range(5):
        audit.record("system:test", "thing.done" if n % 2 else "other.done", None, {"n": n})
    client = client_for(viewer)

    page = client.get("/api/v1/audit-events/", {"action": "thing.done", "page_size": 1}).json()
    second = client.get(page["next"]).json()

    assert [e["data"]["n"] for e in page["results"] + second["results"]] == [3, 1]
    assert second["next"] is None
