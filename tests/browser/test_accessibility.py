"""Every page of the dashboard, as axe-core and a phone see it: no serious or critical
accessibility violation in light or dark mode, and no sideways scroll at 390 px.

One browser context per mode, each page visited once in it: light mode on a desktop, dark
mode on a phone (where the layout differs most), so both colour schemes and both widths
are checked without visiting every page four times.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from drift.models import Scan
from tests.browser.axe import blocking_violations
from tests.browser.conftest import Visitor
from tests.browser.fleet import Fleet, small_fleet

PHONE = {"width": 390, "height": 844}
# How much wider than the window the page is (tables scroll inside their own .table-wrap
# instead), and the elements that stick out first: those whose parent still fits.
SIDEWAYS = """() => {
  const fits = (el) => !el || el.getBoundingClientRect().right <= window.innerWidth + 0.5;
  const culprits = [...document.body.querySelectorAll("*")]
    .filter((el) => !fits(el) && fits(el.parentElement))
    .slice(0, 5)
    .map((el) => el.tagName.toLowerCase() + "." + (el.getAttribute("class") || "")
      + ` (${Math.round(el.getBoundingClientRect().width)} px)`);
  return [document.documentElement.scrollWidth - window.innerWidth, culprits];
}"""


def every_page(fleet: Fleet) -> list[str]:
    """The pages of dashboard/urls.py a person opens, with one object of each kind."""
    scan = Scan.objects.filter(status="succeeded").earliest("pk")
    return [
        "/",
        "/findings/",
        f"/findings/{fleet.findings[3].pk}/",
        "/images/",
        "/admission/",
        "/approvals/",
        "/remediations/",
        f"/remediations/{fleet.pending[0].pk}/",
        "/scans/",
        f"/scans/{scan.pk}/",
        "/clusters/",
        "/clusters/east/",
        "/clusters/new",
        "/clusters/east/edit",
        "/lanes/",
        "/lanes/new",
        "/lanes/fast/edit",
        "/policies/",
        f"/policies/{fleet.policy.name}/",
        "/policies/new",
        f"/policies/{fleet.policy.name}/edit",
        "/sources/",
        "/sources/new",
        "/sources/deploy/edit",
        "/trends/",
        "/system/",
        "/tokens/",
        "/webhooks/",
        "/account/",
    ]


def tour(person: Visitor, pages: list[str], phone: bool) -> list[str]:
    """What is wrong on each page: axe's blocking violations and, on a phone, sideways scroll."""
    problems = []
    person.visit("/login/")  # before signing in: it redirects people who are signed in
    problems += [f"/login/ {line}" for line in blocking_violations(person.page)]
    person.sign_in()
    for path in pages:
        person.visit(path)
        person.charts_drawn()  # axe judges the charts as Plotly leaves them
        problems += [f"{path} {line}" for line in blocking_violations(person.page)]
        overflow, culprits = person.page.evaluate(SIDEWAYS) if phone else (0, [])
        if overflow > 0:
            problems.append(
                f"{path} scrolls sideways: {overflow} px wider than a 390 px phone, "
                f"sticking out: {', '.join(culprits)}"
            )
    person.assert_no_console_errors()
    return problems


def test_every_page_passes_axe_in_light_mode_on_a_desktop(
    chromium: Any, live_server: Any, admin_user: Any, requester: Any
) -> None:
    pages = every_page(small_fleet(requester))
    ada = Visitor(chromium, live_server.url, admin_user, color_scheme="light")
    try:
        problems = tour(ada, pages, phone=False)
    finally:
        ada.close()
    assert not problems, "axe-core found, in light mode:\n" + "\n".join(problems)


def test_every_page_passes_axe_in_dark_mode_on_a_phone_without_sideways_scroll(
    chromium: Any, live_server: Any, admin_user: Any, requester: Any
) -> None:
    pages = every_page(small_fleet(requester))
    ada = Visitor(chromium, live_server.url, admin_user, color_scheme="dark", viewport=PHONE)
    try:
        problems = tour(ada, pages, phone=True)
        # The findings come before the filters: all but the search box start closed.
        page = ada.visit("/findings/")
        expect(page.locator("details.filter-panel")).not_to_have_attribute("open", "")
        expect(page.locator("#results tbody tr").first).to_be_in_viewport()
    finally:
        ada.close()
    assert not problems, "on a phone in dark mode:\n" + "\n".join(problems)
