"""CSV exports: the findings list as filtered (every page), the trends' daily rollups, and
nothing that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def rows_of(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_findings_export_keeps_the_lists_filters_across_every_page(
    client: Any, viewer: Any, make_finding: Any, west: Any
) -> None:
    for n in range(60):  # more than a page of 50
        make_finding(name=f"web-{n:02d}", severity="high")
    make_finding(name="quiet", severity="low")
    make_finding(name="elsewhere", severity="high", cluster=west)
    client.force_login(viewer)

    response = client.get(reverse("findings-csv"), {"severity": "high", "cluster": "east"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="findings-')
    rows = rows_of(response)
    assert len(rows) == 60
    assert {r["cluster"] for r in rows} == {"east"}
    assert {r["severity"] for r in rows} == {"high"}
    first = rows[0]
    assert first["paths"] == "/spec/template/spec/containers/0/image"
    assert first["url"].endswith(f"/findings/{first['id']}/")


def test_the_list_links_its_export_with_the_current_filters(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    make_finding()
    client.force_login(viewer)

    page = client.get(reverse("findings"), {"severity": "high"}).content.decode()

    assert f'href="{reverse("findings-csv")}?severity=high"' in page


def test_a_bad_filter_exports_nothing_and_says_why(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    response = client.get(reverse("findings-csv"), {"severity": "dreadful"})

    assert response.status_code == 400
    assert "severity" in response.content.decode()


def test_cells_that_a_spreadsheet_would_run_are_defused(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    make_finding(ticket_id='=HYPERLINK("http://evil.example")', ticket_url="")
    client.force_login(viewer)

    [row] = rows_of(client.get(reverse("findings-csv")))

    assert row["ticket_id"] == '\'=HYPERLINK("http://evil.example")'


def test_the_trends_export_holds_every_rollup_of_the_range(
    client: Any, viewer: Any, rollups: Any
) -> None:
    client.force_login(viewer)

    week = rows_of(client.get(reverse("trends-csv"), {"days": "7"}))
    month = rows_of(client.get(reverse("trends-csv")))

    assert len(week) == 7 * 4  # fleet, cluster, lane and policy, per day
    assert len(month) == 30 * 4
    assert {r["scope"] for r in week} == {"fleet", "cluster", "lane", "policy"}
    assert week[0]["mttd_median_seconds"]
    assert client.get(reverse("trends-csv"), {"days": "12"}).status_code == 400
