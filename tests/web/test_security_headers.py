"""The headers that keep browsers safe: a Content-Security-Policy without inline script on
every page (dashboard, admin, API docs, error pages), HSTS and secure cookies over TLS.
tests/browser/test_security_policy.py proves in Chromium that the pages keep to it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import include, path

from driftcontrol import env

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


def boom(request: HttpRequest) -> None:
    raise RuntimeError("a bug")


# This module is the URLconf of the test that needs a page that fails.
urlpatterns = [path("boom/", boom), path("", include("driftcontrol.urls"))]
handler500 = "dashboard.views.errors.server_error"


def policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split("; ")}


def test_every_kind_of_page_gets_the_policy(client, admin_user, settings):
    settings.ROOT_URLCONF = __name__
    client.force_login(admin_user)
    pages = {
        "/": 200,
        "/trends/": 200,
        "/findings/": 200,
        "/admin/": 200,
        "/api/docs/": 200,
        "/no/such/page/": 404,
        "/api/v1/me/": 200,
        "/login/": 302,
    }
    for page, status in pages.items():
        response = client.get(page)
        assert response.status_code == status, page
        directives = policy(response)
        assert directives["script-src"] == ["'self'"], page
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["base-uri"] == directives["form-action"] == ["'self'"]

    failing = Client(raise_request_exception=False)
    failing.force_login(admin_user)
    error = failing.get("/boom/")
    assert error.status_code == 500
    assert policy(error)["style-src"] == ["'self'"]


def test_the_dashboard_allows_no_inline_style_and_no_eval(client, viewer):
    client.force_login(viewer)

    directives = policy(client.get("/"))

    assert directives["default-src"] == directives["style-src"] == ["'self'"]
    assert "'unsafe-eval'" not in str(directives) and "'unsafe-inline'" not in str(directives)
    assert directives["report-uri"] == ["/csp-report"]


def test_the_api_docs_keep_scripts_and_styles_to_files(client):
    swagger = policy(client.get("/api/docs/"))

    assert swagger["script-src"] == swagger["style-src"] == ["'self'"]
    assert swagger["img-src"] == ["'self'", "data:"]


def test_swagger_ui_loads_its_start_up_script_as_a_file(client):
    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=")

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script"
    assert "<style" not in page
    assert 'src="/api/docs/?script="' in page
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_report_only_mode_reports_without_enforcing(client, settings):
    settings.CSP_REPORT_ONLY = True

    response = client.get("/login/")

    assert "Content-Security-Policy" not in response
    assert "script-src 'self'" in response["Content-Security-Policy-Report-Only"]


def test_debug_error_pages_only_report(client, settings):
    # Django's DEBUG pages (tracebacks, the URL list) are inline styles and scripts.
    settings.DEBUG = True

    missing, page = client.get("/no/such/page/"), client.get("/login/")

    assert "Content-Security-Policy" not in missing
    assert "Content-Security-Policy-Report-Only" in missing
    assert "Content-Security-Policy" in page


def test_violation_reports_are_logged(client, caplog):
    report = {
        "csp-report": {
            "document-uri": "http://drift.example/trends/",
            "violated-directive": "style-src-elem",
            "blocked-uri": "inline\nFAKE LOG LINE",
        }
    }

    response = client.post("/csp-report", json.dumps(report), "application/csp-report")

    assert response.status_code == 204
    assert "CSP violation on 'http://drift.example/trends/'" in caplog.text
    assert "'inline\\nFAKE LOG LINE'" in caplog.text  # quoted: no forged log line
    assert client.post("/csp-report", "nonsense", "application/json").status_code == 400


def test_hsts_is_sent_over_tls_only(client):
    plain = client.get("/login/")
    tls = client.get("/login/", secure=True)

    assert "Strict-Transport-Security" not in plain
    assert tls["Strict-Transport-Security"] == "max-age=31536000"


def test_a_tls_proxy_counts_as_tls(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")

    assert response["Strict-Transport-Security"] == "max-age=31536000"


def test_cookies_set_over_tls_are_secure_even_when_the_settings_do_not_say_so(
    client, operator, settings
):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    form = client.get("/login/", secure=True)
    assert form.cookies["csrftoken"]["secure"] is True

    signed_in = client.post("/login/", {"username": "oscar", "password": PASSWORD}, secure=True)

    assert signed_in.status_code == 302
    assert signed_in.cookies["sessionid"]["secure"] is True


def load_settings(**variables: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if k not in env.KNOWN}
    script = (
        "import json, driftcontrol.settings as s; print(json.dumps([s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, getattr(s, 'SECURE_PROXY_SSL_HEADER', None),"
        " s.TRUSTED_PROXY_COUNT, s.SECURE_HSTS_SECONDS]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "DEBUG": "1", "DRIFTCONTROL_VAR_DIR": "/tmp/dc-settings-test", **variables},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    keys = ["session_secure", "csrf_secure", "proxy_header", "proxies", "hsts"]
    return dict(zip(keys, json.loads(result.stdout), strict=True))


def test_tls_behind_a_proxy_implies_secure_cookies_and_one_trusted_proxy():
    assert load_settings(BEHIND_TLS_PROXY="1") == {
        "session_secure": True,
        "csrf_secure": True,
        "proxy_header": ["HTTP_X_FORWARDED_PROTO", "https"],
        "proxies": 1,
        "hsts": 31536000,
    }
    plain = load_settings()
    assert plain["session_secure"] is plain["csrf_secure"] is False
    assert plain["proxy_header"] is None and plain["proxies"] == 0
    assert load_settings(SECURE_COOKIES="1")["session_secure"] is True


TEMPLATES = ROOT / "templates"
COMMENTS = re.compile(r"{% comment %}.*?{% endcomment %}|{#.*?#}", re.DOTALL)
INLINE = [
    ("a style attribute", re.compile(r"\sstyle\s*=")),
    ("a <style> block", re.compile(r"<style\b")),
    ("an inline script", re.compile(r"<script(?![^>]*\b(src|type=\"application/json\")\b)")),
    ("an event handler attribute", re.compile(r"\son[a-z]+\s*=\s*[\"']")),
    ("a javascript: URL", re.compile(r"javascript:", re.IGNORECASE)),
]


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(TEMPLATES) for p in TEMPLATES.rglob("*.html")), ids=str
)
def test_templates_hold_nothing_inline_the_policy_refuses(template):
    text = COMMENTS.sub("", (TEMPLATES / template).read_text())

    found = [what for what, pattern in INLINE if pattern.search(text)]

    assert found == [], f"templates/{template} has {', '.join(found)}"
