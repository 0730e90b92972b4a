"""The Admission page in a real browser: reached from the navigation, the decisions drawn
stacked by outcome, a refusal and a break-glass use listed with who asked and what, an
outcome filter, and no serious accessibility violation, on a desktop and on a phone in
dark mode."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import blocking_violations
from tests.browser.conftest import Visitor
from tests.browser.test_accessibility import PHONE, tour
from tests.web.admission_fleet import admission_fleet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_decisions_are_drawn_and_a_refusal_is_listed(visitor: Any, viewer: Any) -> None:
    admission_fleet()
    vera = visitor(viewer)

    page = vera.visit("/images/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admission").click()
    page.wait_for_url("**/admission/")
    assert vera.charts_drawn() == 1
    legend = page.locator("[data-chart] .legend")
    for outcome in ("allow", "warn", "break-glass", "deny"):
        expect(legend).to_contain_text(outcome)
    denies = page.locator("section:has(#h-denies) tbody tr")
    expect(denies).to_have_count(6)
    expect(denies.first.locator(".badge")).to_have_text("deny")
    expect(denies.first).to_contain_text("mallory@example.com")
    expect(denies.first).to_contain_text("apps/Deployment shop/web")
    expect(denies.first).to_contain_text("lane controlled refuses this change")
    glass = page.locator("section:has(#h-break-glass) tbody tr")
    expect(glass).to_have_count(1)
    expect(glass.first).to_contain_text("groups: sre")
    expect(page.get_by_text("1 server answering now")).to_be_visible()
    assert blocking_violations(page) == []
    vera.screenshot("admission")

    page.get_by_label("Outcome", exact=True).select_option("deny")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**outcome=deny**")
    vera.charts_drawn()
    expect(denies).to_have_count(4)
    expect(page.get_by_text("No break-glass group made a change")).to_be_visible()
    vera.assert_no_console_errors()


def test_on_a_phone_in_dark_mode_it_passes_axe_without_sideways_scroll(
    chromium: Any, live_server: Any, viewer: Any
) -> None:
    admission_fleet()
    vera = Visitor(chromium, live_server.url, viewer, color_scheme="dark", viewport=PHONE)
    try:
        problems = tour(vera, ["/admission/", "/admission/?period=1h&cluster=east"], phone=True)
    finally:
        vera.close()
    assert not problems, "on a phone in dark mode:\n" + "\n".join(problems)
