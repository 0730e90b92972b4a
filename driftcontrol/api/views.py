"""Small pieces of the API itself: the JSON 404 for unknown /api/ paths, and the check
that refuses query parameters an operation does not take."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request

from driftcontrol.api.errors import problem_body
from driftcontrol.api.filters import check_query_parameters


@csrf_exempt  # a 404 is the answer whatever the method; CSRF would turn it into an HTML 403
def not_found(request: HttpRequest) -> JsonResponse:
    body = problem_body(404, f"no API endpoint at {request.path}; see /api/docs/")
    return JsonResponse(body, status=404)


class CheckedQueryMixin:
    """For an API view: a query parameter its operation does not take is a 400 naming it,
    checked once signed in (an anonymous caller gets its 401 first)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        check_query_parameters(request, self)
