from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from driftcontrol.exceptions import DomainError, InvalidTransition, NotAllowed, NotFound


class DomainErrorMiddleware:
    """Turn domain refusals raised in views into 403/409 pages that say why."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        status = (
            403
            if isinstance(exception, NotAllowed)
            else 404
            if isinstance(exception, NotFound)
            else 409
            if isinstance(exception, InvalidTransition)
            else 400
        )
        template = {403: "errors/403.html", 404: "errors/404.html"}.get(
            status, "errors/conflict.html"
        )
        return render(request, template, {"reason": str(exception)}, status=status)
