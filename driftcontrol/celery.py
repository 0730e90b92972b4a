"""The Celery application: workers and beat start from here (`celery -A driftcontrol`)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftcontrol.settings")

app = Celery("driftcontrol")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


QUEUES = ("scans", "remediation", "default")

# Tasks are named "<area>.<what>"; the area picks the queue, so scans never wait behind a
# slow remediation and a worker can be dedicated to either.
_QUEUE_BY_AREA = {"scans": "scans", "remediation": "remediation"}


def route_task(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str]:
    area = name.split(".", 1)[0]
    return {"queue": _QUEUE_BY_AREA.get(area, "default")}
