"""The Alignment page in a real browser: failing and passing rules, the trend chart and
each rule's week in words, a failing rule opening its findings, one finding's rule,
evidence and runbook, and no serious accessibility violation on the way."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from drift.models import Lane
from tests.browser.axe import blocking_violations
from tests.factories import AlignmentFindingFactory, ClusterFactory, FindingFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET_PATH = "/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/name"


@pytest.fixture
def east() -> Any:
    """Cluster east runs the controlled lane (namespace shop) and the fast one (dev-*):
    two workloads of shop read the fast lane's Secret, one of them for ten days; a
    reference broke three days ago and was fixed yesterday; one field drifted."""
    controlled = Lane.objects.create(name="controlled", namespaces=["shop"])
    fast = Lane.objects.create(name="fast", namespaces=["dev-*"])
    cluster = ClusterFactory(name="east")
    cluster.lanes.add(controlled, fast)
    now = timezone.now()
    AlignmentFindingFactory(cluster=cluster, name="web", first_seen=now - timedelta(days=10))
    AlignmentFindingFactory(cluster=cluster, name="api", first_seen=now - timedelta(hours=2))
    AlignmentFindingFactory(
        cluster=cluster,
        name="worker",
        rule="refs.secret",
        status="resolved",
        first_seen=now - timedelta(days=3),
        resolved_at=now - timedelta(days=1),
    )
    FindingFactory(cluster=cluster, name="cart", diff={"paths": ["/spec/replicas"]})
    return cluster


def row_of(page: Any, title: str) -> Any:
    return page.locator("tbody tr").filter(has_text=title)


def test_a_failing_rule_opens_its_findings_and_one_shows_evidence_and_runbook(
    visitor: Any, viewer: Any, east: Any
) -> None:
    vera = visitor(viewer)

    page = vera.visit("/alignment/")
    assert vera.charts_drawn() == 1
    expect(page.locator("figure.chart")).to_have_attribute("aria-label", re.compile("per rule"))
    secret = row_of(page, "Workloads use their own lane's Secrets")
    expect(secret.locator(".badge")).to_have_text("failing")
    expect(secret).to_contain_text("+1 this week")  # web was open a week ago, api is new
    expect(secret).to_contain_text("lanes: controlled (2)")
    references = row_of(page, "Pods name Secrets that exist")
    expect(references.locator(".badge")).to_have_text("passing")
    expect(references).to_contain_text("no change this week")  # opened and fixed this week
    expect(page.locator(".lead")).to_contain_text("1 of ")
    assert blocking_violations(page) == []

    page.locator("select[name=lane]").select_option("controlled")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**lane=controlled**")
    vera.charts_drawn()
    row_of(page, "Workloads use their own lane's Secrets").get_by_role(
        "link", name="2 open findings"
    ).click()

    page.wait_for_url(re.compile(r"/findings/\?type=alignment&rule=lane\.secret&.*lane=controlled"))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Alignment")
    expect(page.get_by_label("Alignment rule")).to_have_value("lane.secret")
    assert blocking_violations(page) == []

    rows.get_by_role("link", name="web", exact=True).click()
    page.wait_for_url("**/findings/*/")
    expect(page.get_by_role("heading", name=re.compile("Rule broken"))).to_contain_text(
        "Workloads use their own lane's Secrets"
    )
    expect(page.locator(".lead").last).to_contain_text(
        "Deployment.apps shop/web in lane controlled uses Secret dev-db"
    )
    evidence = page.locator("section[aria-labelledby=h-rule] tbody tr")
    expect(evidence.first).to_contain_text(SECRET_PATH)
    expect(evidence.nth(1)).to_contain_text("Secret shop/dev-db")
    expect(evidence.nth(1)).to_contain_text("which belongs to lane fast")
    expect(page.locator("section[aria-labelledby=h-runbook]")).to_contain_text(
        "Give the lane its own Secret"
    )
    assert blocking_violations(page) == []
    vera.assert_no_console_errors()


def test_with_nothing_open_for_a_month_the_page_says_so_without_a_chart(
    visitor: Any, viewer: Any
) -> None:
    vera = visitor(viewer)

    page = vera.visit("/alignment/")

    expect(page.locator(".lead")).to_contain_text("0 of ")
    expect(page.locator("figure.chart")).to_contain_text("No alignment violation was open")
    expect(page.locator(".badge", has_text="failing")).to_have_count(0)
    assert blocking_violations(page) == []
    vera.assert_no_console_errors()
