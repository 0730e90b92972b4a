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
    "DEFAULT_PARSER_CLASSES": ["driftcontrol.api.parsers.JSONParser"],
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

# --- Request bodies -----------------------------------------------------------------------

# The largest body the API takes is a Cluster document with its kubeconfig inline (tens of
# kilobytes with certificates; `drift apply` reads its files on the server and is not
# bound by this). 1 MiB leaves ample room and bounds what one request makes the server
# hold and parse. Django applies the same limit to the pages' forms; the API answers 413.
REQUEST_BODY_MAX_BYTES = env.integer(
    "REQUEST_BODY_MAX_BYTES",
    1024 * 1024,
    "largest request body the API and the pages read, in bytes",
    minimum=1024,
)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES
# A push notification is read before it is authenticated, so it is bounded too. Pushes of
# many files make large payloads (GitHub caps them at 25 MB); one refused for its size
# only loses the shortcut: the source's regular poll still sees the commit.
GIT_HOOK_BODY_MAX_BYTES = env.integer(
    "GIT_HOOK_BODY_MAX_BYTES",
    5 * 1024 * 1024,
    "largest Git push notification /hooks/git/<source> reads, in bytes",
    minimum=1024,
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
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "driftcontrol.api.schema.document_parameters",
        "driftcontrol.api.schema.document_common_errors",
        "driftcontrol.api.schema.document_headers",
        "driftcontrol.api.schema.document_api",
        "drift.api.document_schemas.document_bodies",
        "driftcontrol.api.schema.document_request_text",
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
