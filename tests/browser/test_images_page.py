"""The Images page in a real browser: reached from the navigation, each image once with
its state in words, where it runs opening to the cluster, a filter by state, and no
serious accessibility violation, in light mode on a desktop and dark mode on a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.alignment.test_images_page import API, WEB, WORKER, images_fleet
from tests.browser.axe import blocking_violations
from tests.browser.conftest import Visitor
from tests.browser.test_accessibility import PHONE, tour

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def row_of(page: Any, image: str) -> Any:
    return page.locator("tbody tr").filter(has=page.get_by_text(image, exact=True))


def test_the_worst_image_comes_first_and_a_state_filters_the_list(
    visitor: Any, viewer: Any
) -> None:
    images_fleet()
    vera = visitor(viewer)

    page = vera.visit("/alignment/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Images").click()
    page.wait_for_url("**/images/")
    rows = page.locator("table.data > tbody > tr")
    expect(rows).to_have_count(4)
    expect(rows.first.locator(".badge")).to_have_text("Invalid signature")
    expect(rows.first).to_contain_text("shop/worker@sha256:c3c3c3c3c3c3…")
    expect(rows.first.locator("abbr").first).to_have_attribute("title", WORKER)
    web = row_of(page, WEB)
    expect(web.locator(".badge")).to_have_text("Verified")
    expect(web).to_contain_text("built from the commit Git deploys")
    web.get_by_text("2 workloads on 2 clusters").click()
    expect(web.get_by_role("link", name="west")).to_be_visible()
    expect(page.locator(".lead")).to_contain_text("4 distinct images running in the fleet")
    assert blocking_violations(page) == []
    vera.screenshot("images")

    page.get_by_label("State").select_option(label="Unsigned")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**state=unsigned**")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(API)
    expect(page.get_by_label("State")).to_have_value("unsigned")
    assert blocking_violations(page) == []

    rows.first.get_by_text("1 workload on 1 cluster").click()
    rows.first.get_by_role("link", name="east").click()
    page.wait_for_url("**/clusters/east/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("east")
    vera.assert_no_console_errors()


def test_on_a_phone_in_dark_mode_the_list_passes_axe_without_sideways_scroll(
    chromium: Any, live_server: Any, viewer: Any
) -> None:
    images_fleet()
    vera = Visitor(chromium, live_server.url, viewer, color_scheme="dark", viewport=PHONE)
    try:
        problems = tour(vera, ["/images/", "/images/?state=verified&q=shop"], phone=True)
    finally:
        vera.close()
    assert not problems, "on a phone in dark mode:\n" + "\n".join(problems)


def test_with_nothing_scanned_the_page_says_what_fills_it(visitor: Any, viewer: Any) -> None:
    vera = visitor(viewer)

    page = vera.visit("/images/")

    expect(page.locator(".note")).to_contain_text(re.compile("No image is listed yet"))
    expect(page.locator("table.data")).to_have_count(0)
    assert blocking_violations(page) == []
    vera.assert_no_console_errors()
