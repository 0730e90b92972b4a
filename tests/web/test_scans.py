"""Scans: live progress while running, evidence and outcome, and "scan now"."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from drift.models import Scan, ScanStatus, ScanTrigger
from driftcontrol.models import AuditEvent
from tests.factories import ClusterFactory, ScanFactory

pytestmark = pytest.mark.django_db


def test_a_running_scan_polls_its_progress_every_second(
    client: Any, viewer: Any, east: Any, shop: Any
) -> None:
    running = ScanFactory(
        policy=shop, cluster=east, status="running", progress_done=30, progress_total=120
    )
    client.force_login(viewer)
    fragment = reverse("scan-progress", args=[running.pk])

    listed = client.get(reverse("scans")).content.decode()
    polled = client.get(fragment).content.decode()

    for text in (listed, polled):
        assert f'hx-get="{fragment}" hx-trigger="every 1s"' in text
        assert '<progress max="100" value="25"' in text
        assert "30/120" in text


def test_a_finished_scan_stops_the_polling(client: Any, viewer: Any, east: Any, shop: Any) -> None:
    done = ScanFactory(
        policy=shop, cluster=east, status="succeeded", objects_desired=40, findings_opened=2
    )
    client.force_login(viewer)

    polled = client.get(reverse("scan-progress", args=[done.pk])).content.decode()

    assert "hx-trigger" not in polled
    assert '<span class="pill st-succeeded">Succeeded</span>' in polled
    assert "40 objects · 2 opened · 0 resolved" in polled


def test_scans_filter_by_status(client: Any, viewer: Any, east: Any, shop: Any) -> None:
    failed = ScanFactory(policy=shop, cluster=east, status="failed", error="cannot reach east")
    ScanFactory(policy=shop, cluster=east, status="succeeded")
    client.force_login(viewer)

    response = client.get(reverse("scans") + "?status=failed")

    assert [scan.pk for scan in response.context["page"].rows] == [failed.pk]
    assert "cannot reach east" in response.content.decode()


def test_a_scan_shows_its_evidence_problems_and_findings(
    client: Any, viewer: Any, east: Any, shop: Any, make_finding: Any
) -> None:
    scan = ScanFactory(
        policy=shop,
        cluster=east,
        status="succeeded",
        partial=True,
        partial_reason="1 kind could not be listed",
        problems=["secrets: forbidden"],
        revision="9f1c2ab77e0d",
    )
    make_finding(name="web", sighted_by=scan)
    client.force_login(viewer)

    text = client.get(reverse("scan", args=[scan.pk])).content.decode()

    assert "1 kind could not be listed" in text
    assert "secrets: forbidden" in text
    assert "Deployment shop/web" in text
    assert "9f1c2ab77e0d" in text


def test_an_operator_starts_a_scan_now(
    client: Any, operator: Any, east: Any, shop: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(operator)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("scan-request"), {"pair": "shop/east"}, follow=True)

    scan = Scan.objects.get()
    assert (scan.trigger, scan.requested_by, scan.status) == (
        ScanTrigger.MANUAL,
        operator,
        ScanStatus.QUEUED,
    )
    assert f"Scan #{scan.pk} of shop on east queued." in response.content.decode()
    assert AuditEvent.objects.filter(action="scan.requested", actor="oscar").exists()
    assert len(queued) == 1  # the worker gets it after the commit


def test_a_pair_already_scanning_is_not_scanned_twice(
    client: Any, operator: Any, east: Any, shop: Any
) -> None:
    running = ScanFactory(policy=shop, cluster=east, status="running")
    client.force_login(operator)

    response = client.post(reverse("scan-request"), {"pair": "shop/east"}, follow=True)

    assert Scan.objects.count() == 1
    assert f"already running (#{running.pk})" in response.content.decode()


def test_only_clusters_a_policy_targets_can_be_scanned(
    client: Any, operator: Any, shop: Any
) -> None:
    ClusterFactory(name="elsewhere")
    client.force_login(operator)

    response = client.post(reverse("scan-request"), {"pair": "shop/elsewhere"}, follow=True)

    assert not Scan.objects.exists()
    assert "is not a policy and a cluster it targets" in response.content.decode()


def test_the_scan_form_offers_every_targeted_pair(client: Any, operator: Any, shop: Any) -> None:
    client.force_login(operator)

    text = client.get(reverse("scans")).content.decode()

    assert '<option value="shop/east">shop/east</option>' in text
    assert '<option value="shop/west">shop/west</option>' in text


def test_a_failed_scan_never_says_no_drift(client: Any, viewer: Any, east: Any, shop: Any) -> None:
    failed = ScanFactory(
        policy=shop, cluster=east, status="failed", error="east: connection refused"
    )
    client.force_login(viewer)

    page = client.get(reverse("scan", args=[failed.pk])).content.decode()

    assert "No drift" not in page
    assert "Nothing was compared: this scan failed" in page
    assert "east: connection refused" in page


def test_a_partial_scan_says_what_it_did_not_compare(
    client: Any, viewer: Any, east: Any, shop: Any
) -> None:
    partial = ScanFactory(
        policy=shop,
        cluster=east,
        status="succeeded",
        partial=True,
        partial_reason="1 kind could not be listed",
        problems=["apps/v1 Deployment: forbidden"],
    )
    client.force_login(viewer)

    page = client.get(reverse("scan", args=[partial.pk])).content.decode()

    assert "No drift: what this scan compared matches Git" not in page
    assert "objects it could not read (above) were not compared" in page
    assert "apps/v1 Deployment: forbidden" in page
