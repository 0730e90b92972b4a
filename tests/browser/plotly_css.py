"""Plotly's own style rules, as the plotly.js this server vendors inserts them, for
static/css/plotly.css: under the Content-Security-Policy Plotly may not add them itself.

After upgrading plotly: `.venv/bin/python -m tests.browser.plotly_css > static/css/plotly.css`
(tests/browser/test_security_policy.py fails until the file matches).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HEADER = """\
/* Plotly's own rules, which it would otherwise insert as an inline <style> that the
   Content-Security-Policy refuses. Generated from the vendored plotly.js by
   `python -m tests.browser.plotly_css`; do not edit by hand. */
"""
STYLE_ID = "plotly.js-style-global"
PLOTLY = Path(__file__).resolve().parents[2] / "static/vendor/plotly/plotly-basic.min.js"


def rules_from_plotly(browser: Any) -> list[str]:
    """The rules plotly.js inserts on load, in the order the browser applies them."""
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><html><head></head><body></body></html>")
        page.add_script_tag(path=str(PLOTLY))
        return page.evaluate(
            "id => [...document.getElementById(id).sheet.cssRules].map(r => r.cssText)", STYLE_ID
        )
    finally:
        page.close()


def rules_of_stylesheet(browser: Any, css: str) -> list[str]:
    """The rules of a stylesheet, as the browser reads them."""
    page = browser.new_page()
    try:
        return page.evaluate(
            "css => { const s = new CSSStyleSheet(); s.replaceSync(css);"
            " return [...s.cssRules].map(r => r.cssText); }",
            css,
        )
    finally:
        page.close()


def stylesheet(rules: list[str]) -> str:
    return HEADER + "".join(f"{rule}\n" for rule in rules)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            sys.stdout.write(stylesheet(rules_from_plotly(browser)))
        finally:
            browser.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main()
