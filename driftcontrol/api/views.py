"""Small pieces of the API itself: the JSON 404 for unknown /api/ paths and 400 for
requests Django refuses before any view (a Host it does not serve), and the check that
refuses query parameters an operation does not take."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request

from driftcontrol.api.errors import problem_body, too_large
from driftcontrol.api.filters import check_query_parameters


@csrf_exempt  # a 404 is the answer whatever the method; CSRF would turn it into an HTML 403
def not_found(request: HttpRequest) -> JsonResponse:
    body = problem_body(404, f"no API endpoint at {request.path}; see /api/docs/")
    return JsonResponse(body, status=404)


# The pages' handler400, for every path outside /api/ (the core names the app, not imports it).
PAGES_BAD_REQUEST = "dashboard.views.errors.bad_request"


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: a request Django refuses before any view runs. Under /api/ the answer
    is the API's error body, so a client parses it as it parses any other; the message
    names no header value, which is the client's input (and DisallowedHost's own text
    suggests settings to an anonymous caller)."""
    if not request.path.startswith("/api/"):
        return import_string(PAGES_BAD_REQUEST)(request, exception)  # type: ignore[no-any-return]
    if isinstance(exception, RequestDataTooBig):
        body = problem_body(413, too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    elif isinstance(exception, DisallowedHost):
        body = problem_body(400, "the Host header names no host this server answers to")
    else:
        body = problem_body(400, "the request could not be read")
    return JsonResponse(body, status=body["status"])


class CheckedQueryMixin:
    """For an API view: a query parameter its operation does not take is a 400 naming it,
    checked once signed in (an anonymous caller gets its 401 first)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        method = (request.method or "").lower()
        if method in self.http_method_names and getattr(self, method, None):  # type: ignore[attr-defined]
            check_query_parameters(request, self)
        # else: a method the view does not take; its 405 says so, whatever the query
