from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from driftcontrol.permissions import Action, check
from driftcontrol.services import system_status as status


@login_required
def system_status(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.VIEW)
    return render(request, "driftcontrol/system_status.html", {"report": status.collect()})


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No database, so a DB outage doesn't restart web."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers and migrations are applied."""
    database = status.database()
    return JsonResponse(
        {"status": "ok" if database.ok else "unavailable", "database": database.detail},
        status=200 if database.ok else 503,
    )


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", {"reason": str(exception or "")}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)
