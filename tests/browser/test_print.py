"""Print styles: a manager's paper copy of the overview or a finding holds the figures and
the evidence, without navigation, forms or buttons."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.fleet import small_fleet


def test_the_overview_and_a_finding_print_without_controls(
    visitor: Any, approver: Any, requester: Any
) -> None:
    fleet = small_fleet(requester)
    anna = visitor(approver)

    for path in ("/", f"/findings/{fleet.findings[0].pk}/"):
        page = anna.visit(path)
        page.emulate_media(media="print")
        expect(page.locator("header.topbar")).to_be_hidden()
        expect(page.locator("main button:visible")).to_have_count(0)
        expect(page.locator("main h1")).to_be_visible()
        page.emulate_media(media="screen")
        expect(page.locator("header.topbar")).to_be_visible()
    anna.assert_no_console_errors()
