"""The Content-Security-Policy in Chromium: every main page keeps to it (the conftest fails
any test whose pages it refused something), charts still draw, the detector itself
notices a refusal, and static/css/plotly.css holds what the vendored Plotly would inject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Visitor
from tests.browser.fleet import small_fleet
from tests.browser.plotly_css import rules_from_plotly, rules_of_stylesheet, stylesheet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PLOTLY_CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "plotly.css"
CHARTS = {"/": 4, "/trends/": 5, "/clusters/east/": 1}


def test_every_main_page_keeps_to_the_policy(
    visitor: Any, admin_user: Any, requester: Any, chromium: Any, live_server: Any
) -> None:
    fleet = small_fleet(requester)
    ada = visitor(admin_user)  # the admin role: every dashboard page and Django's admin

    for path, charts in CHARTS.items():
        ada.visit(path)
        assert ada.charts_drawn() == charts, path
        # Plotly's own rules came from plotly.css (it was told not to inject them).
        svg = ada.page.locator("[data-chart] svg.main-svg").first
        assert svg.evaluate("el => getComputedStyle(el).position") == "absolute"
        ada.page.locator("[data-chart]").first.hover()  # hover labels and the mode bar
    for path in (
        "/findings/?ordering=-severity",
        f"/findings/{fleet.findings[3].pk}/",
        "/remediations/",
        f"/remediations/{fleet.pending[0].pk}/",
        "/approvals/",
        "/scans/",
        "/system/",
        "/admin/",
        "/admin/drift/cluster/",
        "/admin/django_celery_beat/periodictask/add/",
    ):
        expect(ada.visit(path).locator("h1").first).to_be_visible()
    docs = ada.visit("/api/docs/")
    title = docs.locator(".swagger-ui .info .title")
    expect(title).to_contain_text("DriftControl API", timeout=30_000)  # the schema takes time
    expect(docs.locator(".opblock").first).to_be_visible()
    ada.assert_no_console_errors()

    stranger = Visitor(chromium, live_server.url)
    expect(stranger.visit("/login/").locator("h1")).to_have_text("Sign in to DriftControl")
    expect(stranger.visit("/admin/login/").locator("#site-name")).to_be_visible()
    expect(stranger.visit("/no/such/page/").locator("h1")).to_have_text("Not found")
    stranger.close()


def test_the_detector_notices_a_refused_inline_style(visitor: Any, viewer: Any) -> None:
    vera = visitor(viewer)
    page = vera.visit("/")

    page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>h1{color:red}</style>')")

    refused = vera.take_csp_violations()
    assert any("style-src-elem refused inline" in text for text in refused), refused


def test_a_locked_account_is_told_how_long_to_wait(chromium: Any, live_server: Any) -> None:
    from tests.factories import UserFactory

    UserFactory(username="oscar", role="operator")
    stranger = Visitor(chromium, live_server.url)
    page = stranger.visit("/login/")
    for _ in range(5):
        page.get_by_label("Username").fill("oscar")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "Too many failed sign-ins for this account. Try again in 15 minutes."
    )
    stranger.close()


def test_plotly_css_holds_the_rules_the_vendored_plotly_would_inject(chromium: Any) -> None:
    expected = rules_from_plotly(chromium)

    shipped = rules_of_stylesheet(chromium, PLOTLY_CSS.read_text())

    assert expected, "plotly.js inserted no rules: did it find the page's plotly.css?"
    assert shipped == expected, (
        "static/css/plotly.css is out of date for this plotly.js; regenerate it with "
        "`.venv/bin/python -m tests.browser.plotly_css > static/css/plotly.css`"
    )
    assert PLOTLY_CSS.read_text() == stylesheet(expected)
