"""Celery: the broker (Redis, or files under var/ in the embedded mode) and the beat
schedule every installation runs."""

from __future__ import annotations

from pathlib import Path

from driftcontrol import env
from driftcontrol.settings.core import VAR_DIR

# --- Celery -----------------------------------------------------------------------------

CELERY_BROKER_URL = env.broker_url(
    "CELERY_BROKER_URL",
    "filesystem://",
    "redis://HOST:6379/0; an embedded broker kept in files under var/ when unset",
)
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem")
if EMBEDDED_BROKER:
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
    f"file://{VAR_DIR / 'results'}" if EMBEDDED_BROKER else CELERY_BROKER_URL,
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
