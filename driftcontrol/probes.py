"""Liveness and readiness probes for orchestrators: JSON, no session, no page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from driftcontrol.services import system_status as status


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
