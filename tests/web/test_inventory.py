"""Clusters, lanes and policies: reachability, last scan, open drift, scores, the policy
document and the enforce preview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from django.urls import reverse
from django.utils import timezone

from tests.factories import DriftPolicyFactory, ScanFactory

pytestmark = pytest.mark.django_db


def test_clusters_show_reachability_lanes_last_scan_drift_and_score(
    client: Any, viewer: Any, east: Any, west: Any, shop: Any, make_finding: Any, rollups: Any
) -> None:
    east.last_contact_at, east.server_version = timezone.now(), "v1.20.2"
    east.save()
    west.last_error = "connection refused"
    west.save()
    scan = ScanFactory(policy=shop, cluster=east, status="succeeded", objects_desired=20)
    make_finding(severity="critical")
    make_finding(  # accepted for a week: counted nowhere
        severity="low", status="suppressed", suppressed_until=timezone.now() + timedelta(days=7)
    )
    client.force_login(viewer)

    text = client.get(reverse("clusters")).content.decode()
    detail = client.get(reverse("cluster", args=["east"]))

    assert '<span class="badge ok">reachable</span>' in text and "v1.20.2" in text
    assert '<span class="badge down">unreachable</span>' in text
    assert "connection refused" in text
    assert f'href="/scans/{scan.pk}/">#{scan.pk}</a> shop' in text
    assert 'href="/findings/?cluster=east&amp;status=open&amp;status=acknowledged">1 open</a>' in (
        text
    )
    # The live score, the same figure as the cluster's own page (not a daily rollup's).
    assert detail.context["score"].value == 95.0  # one critical (10) of 20 objects x 10
    assert "<strong>95.0</strong>" in text


def test_a_cluster_page_has_the_live_score_its_trend_and_policies(
    client: Any, viewer: Any, east: Any, shop: Any, make_finding: Any, rollups: Any
) -> None:
    ScanFactory(policy=shop, cluster=east, status="succeeded", objects_desired=10)
    make_finding(severity="high")
    client.force_login(viewer)

    response = client.get(reverse("cluster", args=["east"]))

    text = response.content.decode()
    assert response.context["score"].value == 95.0  # one high (5) of 10 objects x 10
    assert "Score of east, last 30 days" in text
    assert len(response.context["trend"]["data"][0]["y"]) == 30
    assert 'href="/policies/shop/">shop</a>' in text


def test_lanes_show_their_clusters_and_drift(
    client: Any, viewer: Any, lane: Any, east: Any, make_finding: Any
) -> None:
    make_finding(severity="medium")
    client.force_login(viewer)

    text = client.get(reverse("lanes")).content.decode()

    assert "<strong>fast</strong>" in text
    assert 'href="/clusters/east/">east</a>' in text
    assert 'href="/findings/?lane=fast&amp;status=open&amp;status=acknowledged">1 open</a>' in text
    assert '<span class="muted">anything</span>' in text  # no allowance: not restricted


def test_a_lane_shows_what_its_workloads_may_use(client: Any, viewer: Any, lane: Any) -> None:
    lane.registries, lane.secrets = ["registry.example.com/dev/"], ["dev-*"]
    lane.save()
    client.force_login(viewer)

    text = client.get(reverse("lanes")).content.decode()

    assert 'images from <span class="mono">registry.example.com/dev/</span>' in text
    assert 'Secrets <span class="mono">dev-*</span>' in text
    assert 'href="/alignment/?lane=fast">alignment rules</a>' in text


def test_policies_show_mode_last_scan_and_drift(
    client: Any, viewer: Any, shop: Any, east: Any, make_finding: Any
) -> None:
    DriftPolicyFactory(name="payments", mode="enforce")
    ScanFactory(policy=shop, cluster=east, status="failed")
    make_finding()
    client.force_login(viewer)

    text = client.get(reverse("policies")).content.decode()

    assert '<span class="badge info">detect only</span>' in text
    assert '<span class="badge warn">enforce</span>' in text
    assert '<span class="pill st-failed">Failed</span>' in text
    assert (
        'href="/findings/?policy=shop&amp;status=open&amp;status=acknowledged">1 open</a>' in text
    )


def test_a_policy_page_shows_its_document(client: Any, viewer: Any, shop: Any) -> None:
    client.force_login(viewer)

    response = client.get(reverse("policy", args=["shop"]))

    document = yaml.safe_load(response.context["document"])
    assert document["kind"] == "DriftPolicy"
    assert document["metadata"] == {"name": "shop"}
    assert document["spec"]["clusters"] == {"names": ["east", "west"]}
    assert "kind: DriftPolicy" in response.content.decode()


def test_the_enforce_preview_lists_what_would_have_been_remediated(
    client: Any, viewer: Any, shop: Any, make_finding: Any
) -> None:
    make_finding(name="web", severity="medium")
    make_finding(name="rbac", severity="critical")
    client.force_login(viewer)
    url = reverse("policy-preview", args=["shop"])

    fragment = client.get(f"{url}?up_to=high&days=30", HTTP_HX_REQUEST="true")
    full_page = client.get(f"{url}?up_to=critical&days=7")

    assert "<html" not in fragment.content.decode()
    assert "<strong>1</strong> finding of the last 30 days" in fragment.content.decode()
    assert "Deployment shop/web" in fragment.content.decode()
    assert "<strong>2</strong> findings of the last 7 days" in full_page.content.decode()


def test_an_enforcing_policy_offers_no_preview(client: Any, viewer: Any, shop: Any) -> None:
    shop.mode, shop.auto_remediate_up_to = "enforce", "low"
    shop.save()
    client.force_login(viewer)

    text = client.get(reverse("policy", args=["shop"])).content.decode()

    assert "This policy enforces already" in text
    assert 'hx-get="/policies/shop/preview"' not in text


def test_a_policy_page_offers_scans_of_its_clusters_to_operators(
    client: Any, operator: Any, shop: Any
) -> None:
    client.force_login(operator)

    text = client.get(reverse("policy", args=["shop"])).content.decode()

    assert '<input type="hidden" name="pair" value="shop/east">' in text
    assert "Scan west now</button>" in text
