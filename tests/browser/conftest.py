"""Browser tests: Playwright drives Debian's Chromium (scripts/browser ensure installs it)
against pytest-django's live server. Each person gets their own browser context, so two
logins (an operator and an approver) can work side by side.

Every page a Visitor opens is watched for console errors and uncaught exceptions; tests
end with `assert_no_console_errors()`. Every page is also watched for what the
Content-Security-Policy refused: any refusal fails the test, whatever the test asserts
(a test that expects one takes it with `take_csp_violations()`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections

# The devcluster and integration fixtures, for tests that need real drift on a real cluster.
from tests.integration.conftest import (  # noqa: F401
    checkout_policy,
    checkout_repo,
    scanner_cluster,
    shop_policy,
    shop_repo,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
# The README's pictures are refreshed on purpose (`make screenshots`), not by every run:
# a test run leaves the working tree as it found it.
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "driftcontrol-screenshots"
)
VIEWPORT = {"width": 1440, "height": 900}
# Runs in every page before its own scripts: each refusal is reported to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(`${event.violatedDirective} refused ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.URL}:${event.lineNumber}:${event.columnNumber}`);
});
"""
# What the policy refused during the current test, from every Visitor's pages.
CSP_VIOLATIONS: list[str] = []


@pytest.fixture(autouse=True)
def _orm_next_to_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an event loop running in this thread while it is
    # started, and Django refuses ORM calls when it sees a running loop. The test's ORM
    # calls are plain synchronous code between Playwright calls, so they are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # The overview keeps MTTD and MTTR for a few minutes; each test computes its own.
    cache.clear()


@pytest.fixture(autouse=True)
def _no_csp_violations() -> Iterator[None]:
    """Fail any browser test whose pages broke the Content-Security-Policy."""
    CSP_VIOLATIONS.clear()
    yield
    if CSP_VIOLATIONS:
        found = "\n".join(CSP_VIOLATIONS)
        CSP_VIOLATIONS.clear()
        pytest.fail(f"the Content-Security-Policy refused:\n{found}", pytrace=False)


@pytest.fixture
def chromium() -> Iterator[Any]:
    # One browser per test, stopped before the database is flushed: a session-wide one
    # would leave its event loop running under every later test of the worker.
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `scripts/browser ensure`", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            # While Playwright runs, Django sees its event loop and keeps the test's ORM
            # connections apart from the usual ones; close them before the loop stops,
            # or they outlive the test and keep the test database from being dropped.
            connections.close_all()
            browser.close()


class Visitor:
    """One person in their own browser context, signed in with their own session."""

    def __init__(self, browser: Any, base_url: str, user: Any = None, **options: Any) -> None:
        # options: more of Playwright's context options (color_scheme="dark", a viewport).
        self.user = user
        self.context = browser.new_context(**{"viewport": VIEWPORT, **options}, base_url=base_url)
        self.context.set_default_timeout(15_000)
        self.context.expose_binding("reportCspViolation", self._csp_violation)
        self.context.add_init_script(CSP_LISTENER)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"{self.page.url}: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"{self.page.url}: {message.text}")
            # Chromium reports some refusals (images a script adds) only here.
            if "Content Security Policy" in message.text:
                CSP_VIOLATIONS.append(f"{self.page.url}: {message.text}")

    def _csp_violation(self, source: Any, text: str) -> None:
        CSP_VIOLATIONS.append(f"{source['frame'].url}: {text}")

    def take_csp_violations(self) -> list[str]:
        """The refusals so far, which the test then answers for instead of the fixture."""
        self.page.evaluate("0")  # a round trip: reports already sent have arrived
        taken = list(CSP_VIOLATIONS)
        CSP_VIOLATIONS.clear()
        return taken

    def sign_in(self) -> Visitor:
        self.page.goto("/login/")
        self.page.get_by_label("Username").fill(self.user.username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/")
        return self

    def visit(self, path: str) -> Any:
        self.page.goto(path)
        self.page.wait_for_load_state("load")
        return self.page

    def screenshot(self, name: str) -> Path:
        """A full-page picture (for the README with `make screenshots`)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target

    def charts_drawn(self) -> int:
        """Wait until Plotly has drawn every chart of the page; how many there are."""
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('[data-chart]')]"
            ".every(el => el.querySelector('svg.main-svg'))"
        )
        return self.page.locator("[data-chart]:has(svg.main-svg)").count()

    def assert_no_console_errors(self) -> None:
        assert self.errors == [], "\n".join(self.errors)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitor(chromium: Any, live_server: Any) -> Iterator[Callable[[Any], Visitor]]:
    """visitor(user) -> a signed-in Visitor with their own browser context."""
    opened: list[Visitor] = []

    def open_as(user: Any) -> Visitor:
        person = Visitor(chromium, live_server.url, user)
        opened.append(person)
        return person.sign_in()

    yield open_as
    for person in opened:
        person.close()
