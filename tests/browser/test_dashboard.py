"""The dashboard in a real browser: every page loads without a console error, charts draw,
findings filter and sort through htmx, selections behave, and viewers get no buttons."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from drift.models import Finding, FindingStatus
from tests.browser.fleet import small_fleet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_tour_of_every_page(visitor: Any, approver: Any, requester: Any) -> None:
    fleet = small_fleet(requester)
    anna = visitor(approver)

    anna.visit("/")
    assert anna.charts_drawn() == 4
    expect(anna.page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    anna.screenshot("overview")

    anna.visit("/findings/?ordering=-severity")
    expect(anna.page.locator("#results tbody tr").first).to_contain_text("Critical")
    anna.screenshot("findings")

    anna.visit("/trends/")
    assert anna.charts_drawn() == 5
    anna.screenshot("trends")

    page = anna.visit("/scans/")
    expect(page.locator(f"#scan-{fleet.running.pk}-progress progress")).to_be_visible()
    anna.screenshot("scans")

    page = anna.visit(f"/policies/{fleet.policy.name}/")
    expect(page.locator("pre.block")).to_contain_text("kind: DriftPolicy")
    page.get_by_label("Auto-remediate up to").select_option("critical")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_contain_text("of the last 30 days would have been")
    anna.screenshot("policy-detail")

    for path in (
        "/clusters/",
        "/clusters/east/",
        "/lanes/",
        "/policies/",
        "/approvals/",
        "/remediations/",
        f"/remediations/{fleet.pending[0].pk}/",
        f"/findings/{fleet.findings[3].pk}/",
        "/system/",
    ):
        anna.visit(path)
        expect(anna.page.locator("h1")).to_be_visible()
    anna.visit("/clusters/east/")
    assert anna.charts_drawn() == 1
    anna.assert_no_console_errors()


def test_findings_filter_sort_and_open_through_htmx(
    visitor: Any, operator: Any, requester: Any
) -> None:
    small_fleet(requester)
    oscar = visitor(operator)
    page = oscar.visit("/findings/")
    rows = page.locator("#results tbody tr")

    page.get_by_label("Search", exact=True).fill("cart")
    page.wait_for_url("**q=cart**")  # htmx pushed the filtered address
    # The list opens on open drift: open and acknowledged findings, not suppressed ones.
    listed = Finding.objects.filter(status__in=["open", "acknowledged"])
    carts = listed.filter(name__icontains="cart").count()
    expect(rows).to_have_count(carts)

    page.get_by_label("Cluster", exact=True).select_option("east")
    page.wait_for_url("**cluster=east**")
    expected = listed.filter(name__icontains="cart", cluster__name="east")
    expect(rows).to_have_count(expected.count())

    page.get_by_role("link", name="Clear").click()
    page.get_by_role("checkbox", name="Critical").check()
    page.wait_for_url("**severity=critical**")
    expect(rows).to_have_count(listed.filter(severity="critical").count())

    # The list opens worst first; a click on "Last seen" sorts newest first.
    page.get_by_role("link", name="Last seen").click()
    page.wait_for_url("**ordering=-last_seen**")
    expect(page.get_by_label("Sort by", exact=True)).to_have_value("-last_seen")

    first = rows.first.locator("td.name a")
    name = first.inner_text()
    first.click()
    expect(page.locator("h1")).to_contain_text(name)
    expect(page.get_by_role("heading", name="Git and the cluster, side by side")).to_be_visible()
    expect(page.locator("table.sbs td.add").first).to_be_visible()  # what differs live
    oscar.assert_no_console_errors()


def test_a_selection_across_clusters_cannot_be_one_request(
    visitor: Any, operator: Any, requester: Any
) -> None:
    fleet = small_fleet(requester)
    east, west = fleet.clusters[0], fleet.clusters[1]
    on_east = Finding.objects.open().filter(cluster=east, status="open").first()
    on_west = Finding.objects.open().filter(cluster=west, status="open").first()
    oscar = visitor(operator)
    page = oscar.visit("/findings/?ordering=name")
    remediate = page.locator('button[value="remediate"]')  # inside a closed disclosure
    acknowledge = page.get_by_role("button", name="Acknowledge selected")

    page.locator(f'input[name="finding"][value="{on_east.pk}"]').check()
    page.locator(f'input[name="finding"][value="{on_west.pk}"]').check()

    expect(page.locator("[data-selection-count]")).to_have_text("2 findings selected")
    expect(page.locator("[data-selection-warning]")).to_contain_text("mixes 2 clusters")
    expect(remediate).to_be_disabled()

    page.get_by_text("Acknowledge", exact=True).click()  # open the disclosure
    page.get_by_label("Comment (optional)").fill("seen in the browser")
    acknowledge.click()
    expect(page.locator(".flash-success")).to_have_text("Acknowledged 2 findings.")
    assert {f.status for f in Finding.objects.filter(pk__in=[on_east.pk, on_west.pk])} == {
        FindingStatus.ACKNOWLEDGED
    }
    oscar.assert_no_console_errors()


def test_a_suppression_without_a_reason_keeps_the_selection_and_says_why(
    visitor: Any, operator: Any, requester: Any
) -> None:
    fleet = small_fleet(requester)
    chosen = list(Finding.objects.open().filter(cluster=fleet.clusters[0], status="open")[:2])
    oscar = visitor(operator)
    page = oscar.visit("/findings/?ordering=name")
    boxes = [page.locator(f'input[name="finding"][value="{f.pk}"]') for f in chosen]
    for box in boxes:
        box.check()
    page.get_by_text("Suppress", exact=True).click()  # open the disclosure
    suppress = page.get_by_role("button", name="Suppress selected")

    suppress.click()

    expect(page.locator("#bulk-feedback [role=alert]")).to_contain_text(
        "say why the drift is accepted for now"
    )
    for box in boxes:
        expect(box).to_be_checked()
    expect(page.locator("[data-selection-count]")).to_have_text("2 findings selected")
    assert all(f.status == "open" for f in Finding.objects.filter(pk__in=[c.pk for c in chosen]))

    page.get_by_label("Reason", exact=True).fill("a migration is under way")
    suppress.click()

    expect(page.locator("#results .flash-success")).to_contain_text("2 findings")
    expect(page).to_have_url(re.compile(r"/findings/\?ordering=name$"))
    for finding in chosen:  # suppressed findings leave the list's default statuses
        expect(page.locator(f'input[name="finding"][value="{finding.pk}"]')).to_have_count(0)
    oscar.assert_no_console_errors()


def test_a_viewer_sees_no_buttons_and_a_forged_post_is_refused(
    visitor: Any, viewer: Any, requester: Any
) -> None:
    fleet = small_fleet(requester)
    target = next(f for f in fleet.findings if f.status == "open")
    vera = visitor(viewer)

    page = vera.visit("/findings/")
    expect(page.locator('input[name="finding"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Request remediation")).to_have_count(0)
    page = vera.visit(f"/findings/{target.pk}/")
    expect(page.get_by_role("heading", name="Actions")).to_have_count(0)
    page = vera.visit("/approvals/")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    page = vera.visit("/scans/")
    expect(page.get_by_role("button", name="Scan now")).to_have_count(0)

    token = next(c["value"] for c in vera.context.cookies() if c["name"] == "csrftoken")
    forged = vera.context.request.post(
        "/findings/actions",
        form={"action": "acknowledge", "finding": str(target.pk)},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    approval = vera.context.request.post(
        f"/remediations/{fleet.pending[0].pk}/approve",
        form={"comment": "sure"},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )

    assert forged.status == 403
    assert "to acknowledge, suppress or link a finding needs the operator role" in forged.text()
    assert approval.status == 403
    assert Finding.objects.get(pk=target.pk).status == "open"
    vera.assert_no_console_errors()


def test_back_from_a_finding_restores_the_filters_as_typed(
    visitor: Any, operator: Any, requester: Any
) -> None:
    small_fleet(requester)
    oscar = visitor(operator)
    page = oscar.visit("/findings/")

    page.get_by_label("Search", exact=True).fill("cart")
    page.wait_for_url("**q=cart**")
    expect(page.locator("#results tbody tr").first).to_contain_text("cart")
    page.locator("#results tbody tr td.name a").first.click()
    expect(page.get_by_role("heading", name="Git and the cluster, side by side")).to_be_visible()
    page.go_back()

    page.wait_for_url("**q=cart**")
    expect(page.get_by_label("Search", exact=True)).to_have_value("cart")
    oscar.assert_no_console_errors()


BAR_FILLS = """() => [...document.querySelectorAll('[data-chart] .barlayer .point path')]
  .map((bar) => getComputedStyle(bar).fill)"""


CSS_VARIABLE = "getComputedStyle(document.documentElement).getPropertyValue"


def rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_in_dark_mode_the_charts_take_the_dark_schemes_severity_colours(
    chromium: Any, live_server: Any, viewer: Any, requester: Any
) -> None:
    from dashboard.charts import SEVERITY_COLOURS
    from tests.browser.conftest import Visitor

    small_fleet(requester)
    vera = Visitor(chromium, live_server.url, viewer, color_scheme="dark").sign_in()
    try:
        vera.visit("/")
        vera.charts_drawn()
        fills = set(vera.page.evaluate(BAR_FILLS))
        dark = {vera.page.evaluate(f"() => {CSS_VARIABLE}('--{c}')") for c in SEVERITY_COLOURS}
        vera.assert_no_console_errors()
    finally:
        vera.close()

    assert fills, "no bar drawn"
    assert not fills & {rgb(colour) for colour in SEVERITY_COLOURS.values()}  # no light ones
    assert fills & {rgb(colour) for colour in dark}
