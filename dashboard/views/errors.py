"""The pages Django shows for 400, 403, 404 and 500 (handler400/403/404/500 in the root
URLconf)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", {"reason": str(exception or "")}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: Django answers a request it cannot read (a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields) here. A body too large is 413 and says
    so; the rest keep Django's plain 400, which renders nothing that could fail again
    (a DisallowedHost must not reach templates that build URLs from the host)."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        reason = (
            f"The form sent more than {limit:,} bytes, the most a page accepts. "
            "Shorten what you typed and send it again."
        )
        return render(request, "errors/too_large.html", {"reason": reason}, status=413)
    return defaults.bad_request(request, exception or SuspiciousOperation())
