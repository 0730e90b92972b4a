"""The list pages cost the same number of queries whatever the number of rows: no query
per row in a view or a template loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import ClusterFactory, LaneFactory, ScanFactory
from tests.web.conftest import approve_as

pytestmark = pytest.mark.django_db


def queries_for(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.fixture
def grow(
    make_finding: Any,
    make_request: Any,
    shop: Any,
    requester: Any,
    second_approver: Any,
) -> Callable[[int], None]:
    """Add ``n`` of everything the list pages show: findings on several clusters and lanes
    (some recurring), pending requests with plans, findings and approvals, running scans."""

    def add(n: int) -> None:
        for index in range(n):
            lane = LaneFactory()
            cluster = ClusterFactory()
            cluster.lanes.add(lane)
            finding = make_finding(
                cluster=cluster,
                severity=("critical", "high", "medium", "low", "info")[index % 5],
                occurrences=1 + index % 3,
            )
            other = make_finding(cluster=cluster, kind="ConfigMap")
            request = make_request([finding, other], requester, approvals_required=2)
            approve_as(request, second_approver)
            ScanFactory(policy=shop, cluster=cluster, status="running", progress_total=10)

    return add


@pytest.mark.parametrize(
    "url",
    [
        reverse("home"),
        reverse("findings"),
        reverse("findings") + "?ordering=-severity&status=open-any&status=resolved",
        reverse("approvals"),
        reverse("remediations"),
        reverse("scans"),
        reverse("clusters"),
        reverse("lanes"),
        reverse("policies"),
    ],
)
def test_a_list_page_costs_the_same_for_5_and_for_20_rows(
    client: Any, viewer: Any, grow: Callable[[int], None], url: str
) -> None:
    # 20 is the approval queue's page size: every row added here is rendered.
    client.force_login(viewer)
    grow(5)
    client.get(url)  # warm caches that are not per row (content types, sessions)
    few = queries_for(client, url)

    grow(15)
    many = queries_for(client, url)

    assert many == few


def test_the_findings_list_costs_the_same_for_5_and_for_50_findings(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    client.force_login(viewer)
    for _ in range(5):
        make_finding()
    client.get(reverse("findings"))
    few = queries_for(client, reverse("findings"))

    for _ in range(45):
        make_finding()
    many = queries_for(client, reverse("findings"))

    assert many == few
    assert few <= 10
