from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from driftcontrol.exceptions import (
    ClusterRefused,
    ClusterUnreachable,
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotFound,
)

_STATUS: list[tuple[type[DomainError], int]] = [
    (NotAllowed, 403),
    (NotFound, 404),
    (InvalidTransition, 409),
    (ClusterRefused, 502),
    (ClusterUnreachable, 503),
]


class DomainErrorMiddleware:
    """Turn domain refusals raised in views into 403/409 pages that say why."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        status = next((code for kind, code in _STATUS if isinstance(exception, kind)), 400)
        template = {403: "errors/403.html", 404: "errors/404.html"}.get(
            status, "errors/conflict.html"
        )
        return render(request, template, {"reason": str(exception)}, status=status)
