"""System checks (`manage.py check`) for deployments that would run but run badly."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register("driftcontrol", deploy=True)
def embedded_defaults(app_configs: Any, **kwargs: Any) -> list[Warning]:
    warnings = []
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        warnings.append(
            Warning(
                "DATABASE_URL is not set: using the embedded SQLite database.",
                hint="Fine for one machine; set DATABASE_URL to PostgreSQL for production.",
                id="driftcontrol.W001",
            )
        )
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        warnings.append(
            Warning(
                "CELERY_BROKER_URL is not set: using the embedded file broker.",
                hint="Workers on other machines cannot see it; set CELERY_BROKER_URL to Redis.",
                id="driftcontrol.W002",
            )
        )
    return warnings
