"""The REST API, its rate limits and schema, and outgoing webhooks."""

from __future__ import annotations

from driftcontrol import env
from driftcontrol.settings.celery import CELERY_BEAT_SCHEDULE, CELERY_BROKER_URL, EMBEDDED_BROKER
from driftcontrol.settings.core import DEBUG

# --- REST API and webhooks --------------------------------------------------------------

REST_FRAMEWORK = {
    # Bearer tokens first: an unauthenticated call then gets 401 with a Bearer challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "driftcontrol.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["driftcontrol.api.permissions.DomainPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["driftcontrol.api.throttling.ClientRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["driftcontrol.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "driftcontrol.api.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "driftcontrol.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "driftcontrol.api.errors.exception_handler",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(  # type: ignore[attr-defined]
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

API_THROTTLE_RATES = {
    # Per token (or per signed-in user, or per address when anonymous).
    "client": env.rate(
        "API_THROTTLE_RATE", "600/minute", "API requests allowed per token or user, e.g. 600/minute"
    ),
    "anonymous": env.rate(
        "API_THROTTLE_ANON_RATE", "60/minute", "API requests allowed per address without login"
    ),
}
# Throttle counters must be shared by every web process: Redis when the broker is Redis.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api"}
    if EMBEDDED_BROKER
    else {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CELERY_BROKER_URL,
        "KEY_PREFIX": "driftcontrol-api",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DriftControl API",
    "DESCRIPTION": (
        "Clusters, policies, scans, findings and remediations of DriftControl. "
        "Authenticate with `Authorization: Bearer <token>` (`drift token create`) or a "
        "browser session. Errors share one body: `type`, `title`, `status`, `detail` and, "
        "for 400, `errors` naming every bad field."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs pages hold no data: readable without signing in.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "driftcontrol.api.schema.document_common_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "drift.models.choices.Severity",
        "FindingStatusEnum": "drift.models.choices.FindingStatus",
        "RequestStatusEnum": "remediation.models.requests.RequestStatus",
        "ScanStatusEnum": "drift.models.choices.ScanStatus",
        "DeliveryStatusEnum": "driftcontrol.models.webhooks.DeliveryStatus",
        "ScanTriggerEnum": "drift.models.choices.ScanTrigger",
        "RequestTriggerEnum": "remediation.models.requests.RequestTrigger",
        "TokenScopeEnum": "driftcontrol.models.tokens.TokenScope",
        "RollupScopeEnum": "drift.models.rollups.RollupScope",
    },
}

WEBHOOK_TIMEOUT_SECONDS = env.integer(
    "WEBHOOK_TIMEOUT_SECONDS", 10, "longest a webhook receiver may take to answer", minimum=1
)
WEBHOOK_RETRY_FOR_HOURS = env.integer(
    "WEBHOOK_RETRY_FOR_HOURS", 24, "how long failed webhook deliveries are retried", minimum=1
)
WEBHOOK_RETRY_BASE_SECONDS = env.integer(
    "WEBHOOK_RETRY_BASE_SECONDS", 10, "first webhook retry delay; doubles per attempt", minimum=1
)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.boolean(
    "WEBHOOK_ALLOW_PRIVATE_TARGETS",
    False,
    "allow webhook URLs on loopback, link-local and private addresses",
)
WEBHOOK_DISPATCH_SECONDS = env.integer(
    "WEBHOOK_DISPATCH_SECONDS", 5, "how often beat sends pending outbox events", minimum=1
)
CELERY_BEAT_SCHEDULE["webhooks-dispatch"] = {
    "task": "webhooks.dispatch",
    "schedule": float(WEBHOOK_DISPATCH_SECONDS),
}
