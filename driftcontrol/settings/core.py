"""The core: keys, hosts, apps, middleware, templates, database, static files and logging."""

from __future__ import annotations

import secrets
from pathlib import Path

from whitenoise.compress import Compressor  # type: ignore[import-untyped]

from driftcontrol import env

BASE_DIR = Path(__file__).resolve().parent.parent.parent
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
    "driftcontrol.apps.StaticFilesConfig",  # django.contrib.staticfiles, minus ReDoc
    "django_celery_beat",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "driftcontrol",
    "drift",
    "alignment",
    "remediation",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "driftcontrol.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages show moments in the signed-in user's zone (Account page); needs request.user.
    "driftcontrol.timezones.UserTimeZoneMiddleware",
    # RateLimit-* headers on every /api/ answer, errors included.
    "driftcontrol.api.throttling.RateLimitHeadersMiddleware",
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

# --- Time, language, static files -------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.string(
    "TIME_ZONE", "UTC", "time zone for schedules, and for display unless a user picks one"
)
# The "en" formats are the project's own (one date format on every page): see the module.
FORMAT_MODULE_PATH = "driftcontrol.formats"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
STATIC_ROOT = VAR_DIR / "static"
_static_manifest = env.boolean(
    "STATIC_MANIFEST", not DEBUG, "serve hashed static names (needs collectstatic)"
)
# Without collected, hashed files (development, tests) serve straight from static/.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not _static_manifest
# Source maps are fetched by developer tools only: compressing them doubles the time
# collectstatic takes for no visitor's benefit.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "driftcontrol.staticstorage.CollectedStaticFiles"
        if _static_manifest
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

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
