"""Queueing Celery tasks by name, the one way services hand work to a worker.

Services name the task (`"scans.run"`) instead of importing the module that defines it:
task modules import services, so importing them back would make a loop. Celery routes a
task sent by name like any other (`driftcontrol.celery.route_task`).

`after_commit` sends once the caller's transaction commits (a worker must find the row).
If the broker is down at that moment, the change is already stored: the send is logged and
left to the periodic task that sweeps for that kind of row (queued scans, approved
remediations, due webhook deliveries...).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError

from driftcontrol.celery import app

log = logging.getLogger(__name__)

# What a broker that cannot be reached raises on send.
BrokerDown = (OperationalError, ConnectionError, OSError)


def send(task_name: str, *args: Any) -> None:
    """Queue the task now; raises one of `BrokerDown` when the broker cannot be reached."""
    app.send_task(task_name, args=args)


def after_commit(task_name: str, *args: Any) -> None:
    """Queue the task when the current transaction commits; never fails the caller."""

    def deferred() -> None:
        try:
            send(task_name, *args)
        except BrokerDown as error:
            log.warning(
                "broker unavailable, %s%s not sent now (a sweep will): %s", task_name, args, error
            )

    transaction.on_commit(deferred)
