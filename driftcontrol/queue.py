"""Sending Celery tasks for rows just written, without failing the request that wrote them.

The task is sent after the transaction commits (a worker must find the row). If the broker
is down at that moment, the change is already stored: the send is logged and left to the
periodic task that sweeps for that kind of row (queued scans, approved remediations...).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)


def after_commit(task: Any, *args: Any) -> None:
    def send() -> None:
        try:
            task.delay(*args)
        except (OperationalError, ConnectionError, OSError) as error:
            log.warning(
                "broker unavailable, %s%s not sent now (a sweep will): %s", task.name, args, error
            )

    transaction.on_commit(send)
