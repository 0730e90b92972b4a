"""DriftControl settings, driven by environment variables.

The defaults give the embedded mode (one machine, SQLite, a broker kept in files under
``var/``); production sets DATABASE_URL and CELERY_BROKER_URL. The README lists every
variable; ``driftcontrol.env.KNOWN`` holds the same list at run time.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from driftcontrol import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(
    env.string(
        "DRIFTCONTROL_VAR_DIR",
        str(BASE_DIR / "var"),
        "where the embedded database, broker and results live",
    )
)

DEBUG = env.boolean("DEBUG", False, "development mode: dev keys allowed, tracebacks shown")

# A fresh random key per process would log everyone out on every restart and break
# signed values between web and worker, so the dev fallback is fixed, and refused in
# production.
SECRET_KEY = env.required(
    "SECRET_KEY",
    "signs sessions and tokens",
    when=DEBUG,
    reason="production (DEBUG off) needs a long random SECRET_KEY; "
    f"for example: {secrets.token_urlsafe(48)}",
    fallback=lambda: "dev-only-insecure-secret-key-do-not-use-in-production-0123456789",
)

# The dev key is public (it is in this file); DEBUG is the only place it is accepted.
_DEV_FIELD_KEY = "ZHJpZnRjb250cm9sLWRldi1vbmx5LWZpZWxkLWtleSE="
FIELD_ENCRYPTION_KEYS = env.fernet_keys(
    "FIELD_ENCRYPTION_KEYS",
    [_DEV_FIELD_KEY] if DEBUG else None,
    "Fernet keys for cluster credentials; first encrypts, all decrypt",
)

ALLOWED_HOSTS = env.string_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"], "host names this server answers to"
)
CSRF_TRUSTED_ORIGINS = env.string_list(
    "CSRF_TRUSTED_ORIGINS", [], "origins allowed to POST, e.g. https://drift.example.com"
)
BASE_URL = env.string(
    "DRIFTCONTROL_BASE_URL",
    "http://127.0.0.1:8000",
    "public URL of the UI, used in links sent out (webhooks)",
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "driftcontrol",
    "drift",
    "remediation",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "driftcontrol.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "driftcontrol.urls"
WSGI_APPLICATION = "driftcontrol.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.roles",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

DATABASES = {
    "default": env.database(
        "DATABASE_URL",
        f"sqlite:///{VAR_DIR / 'driftcontrol.sqlite3'}",
        "postgres://USER:PASSWORD@HOST:5432/NAME; SQLite under var/ when unset",
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers work while one writes, and
    # IMMEDIATE transactions take the write lock up front instead of failing mid-way
    # with "database is locked" when two writers meet.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.integer(
        "DATABASE_CONN_MAX_AGE", 60, "seconds a PostgreSQL connection is reused", minimum=0
    )
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication ---------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SECURE_COOKIES = env.boolean(
    "SECURE_COOKIES", False, "send session and CSRF cookies over HTTPS only"
)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
if env.boolean("BEHIND_TLS_PROXY", False, "trust X-Forwarded-Proto from a TLS proxy"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Time, language, static files -------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.string("TIME_ZONE", "UTC", "time zone for display and schedules")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js comes with the plotly package: served from here, never from a CDN.
    "driftcontrol.staticfinders.VendoredFinder",
]
STATIC_ROOT = VAR_DIR / "static"
_static_manifest = env.boolean(
    "STATIC_MANIFEST", not DEBUG, "serve hashed static names (needs collectstatic)"
)
# Without collected, hashed files (development, tests) serve straight from static/.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not _static_manifest
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _static_manifest
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Celery -----------------------------------------------------------------------------

CELERY_BROKER_URL = env.broker_url(
    "CELERY_BROKER_URL",
    "filesystem://",
    "redis://HOST:6379/0; an embedded broker kept in files under var/ when unset",
)
_embedded_broker = CELERY_BROKER_URL.startswith("filesystem")
if _embedded_broker:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
    # Web writes messages and workers read them: the folders must exist for both.
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env.string(
    "CELERY_RESULT_BACKEND",
    f"file://{VAR_DIR / 'results'}" if _embedded_broker else CELERY_BROKER_URL,
    "where task results are kept; defaults to the broker (or var/results)",
)
if CELERY_RESULT_BACKEND.startswith("file://"):
    Path(CELERY_RESULT_BACKEND.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = ("driftcontrol.celery.route_task",)
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A worker takes one task at a time: scans and remediations are long, and a prefetched
# task would sit behind them while another worker idles.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks that opt into acks_late (everything that changes a cluster) are redelivered when
# their worker dies; their services are written to be safe to run twice.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Beat copies these into the database scheduler at start; policies add their own rows.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "system.heartbeat", "schedule": 30.0},
    # Policies have their own intervals; this tick queues whichever pairs are due.
    "scans-dispatch-due": {"task": "scans.dispatch_due", "schedule": 10.0},
    "scans-reap": {"task": "scans.reap", "schedule": 60.0},
    "remediation-resume-due": {"task": "remediation.resume_due", "schedule": 30.0},
    "remediation-expire-due": {"task": "remediation.expire_due", "schedule": 60.0},
    "analytics-rollup-recent": {"task": "analytics.rollup_recent", "schedule": 900.0},
    "findings-end-expired-suppressions": {
        "task": "findings.end_expired_suppressions",
        "schedule": 60.0,
    },
    "outbox-prune": {"task": "outbox.prune", "schedule": 86400.0},
    "api-prune-idempotency": {"task": "api.prune_idempotency", "schedule": 3600.0},
}

# --- Drift detection --------------------------------------------------------------------

GIT_TIMEOUT_SECONDS = env.integer(
    "GIT_TIMEOUT_SECONDS", 120, "longest a git fetch or kustomize build may take", minimum=5
)
DRIFTCONTROL_KUSTOMIZE = env.string(
    "DRIFTCONTROL_KUSTOMIZE", "", "path to kustomize (or kubectl) for kustomizations"
)
DRIFTCONTROL_CACHE = Path(
    env.string(
        "DRIFTCONTROL_CACHE",
        str(Path.home() / ".cache" / "driftcontrol"),
        "where slow builds are cached (the local API server)",
    )
)
# The local API server's build brings a kubectl with `kubectl kustomize`.
KUSTOMIZE_CANDIDATES = [DRIFTCONTROL_CACHE / "kubernetes-1.20.2" / "bin" / "kubectl"]

OUTBOX_RETENTION_DAYS = env.integer(
    "OUTBOX_RETENTION_DAYS",
    30,
    "days dispatched events and their webhook logs are kept",
    minimum=1,
)

# --- Remediation ------------------------------------------------------------------------

REMEDIATION_LEASE_SECONDS = env.integer(
    "REMEDIATION_LEASE_SECONDS",
    60,
    "how long a silent worker keeps a remediation before another resumes it",
    minimum=1,
)
REMEDIATION_PAUSE_SECONDS = float(
    env.integer("REMEDIATION_PAUSE_SECONDS", 0, "seconds between objects of one remediation", 0)
)
# A controller that fights the change (an operator owning the field) reverts it within
# seconds: verification watches the objects this long before it calls them verified.
REMEDIATION_VERIFY_SECONDS = float(
    env.integer("REMEDIATION_VERIFY_SECONDS", 5, "seconds a result must hold to verify", 0)
)

# --- Logging ----------------------------------------------------------------------------

LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"), "log verbosity")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

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
    if _embedded_broker
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
