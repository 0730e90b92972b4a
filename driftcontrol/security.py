"""The headers that keep browsers safe: the Content-Security-Policy on every response, and
secure cookies on every request that arrived over TLS. HSTS and the rest come from Django's
SecurityMiddleware; the policy itself is built in driftcontrol.settings.security."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

log = logging.getLogger(__name__)

REPORT_LIMIT = 8 * 1024  # a violation report is a few hundred bytes; the rest is not read


def policy_for(path: str) -> str:
    directives = dict(settings.CONTENT_SECURITY_POLICY)
    for prefix, replaced in settings.CSP_EXCEPTIONS.items():
        if path.startswith(prefix):
            directives.update(replaced)
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class SecurityHeadersMiddleware:
    """Send the Content-Security-Policy, and mark cookies secure when TLS is on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        header = "Content-Security-Policy"
        # Django's DEBUG error pages (tracebacks, URL lists) are inline styles and scripts.
        if settings.CSP_REPORT_ONLY or (settings.DEBUG and response.status_code >= 400):
            header += "-Report-Only"
        response.headers.setdefault(header, policy_for(request.path))
        if request.is_secure():
            # SESSION_COOKIE_SECURE covers a TLS proxy the settings know about; this covers
            # TLS they do not (gunicorn's own certificate), and every other cookie too.
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response


@csrf_exempt  # browsers send reports without a token, and a report changes nothing
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    """Log what the browser refused, so a page the policy breaks shows up in the logs."""
    body = request.read(REPORT_LIMIT)
    try:
        report = json.loads(body).get("csp-report", {})
    except (ValueError, AttributeError):
        return HttpResponse(status=400)
    if not isinstance(report, dict):
        return HttpResponse(status=400)
    log.warning(
        "CSP violation on %r: %r refused %r",  # repr: a report cannot forge log lines
        str(report.get("document-uri", "?"))[:200],
        str(report.get("violated-directive", "?"))[:100],
        str(report.get("blocked-uri", "?"))[:200],
    )
    return HttpResponse(status=204)


def favicon(request: HttpRequest) -> HttpResponse:
    """Pages without the dashboard's <link rel="icon"> (the admin's) make browsers ask here."""
    return HttpResponseRedirect(static("img/favicon.svg"))
