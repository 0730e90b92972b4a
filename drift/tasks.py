"""Celery tasks for drift detection: thin wrappers that take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from drift.services import scanning


@shared_task(name="scans.run", ignore_result=True)
def run_scan(scan_id: int) -> None:
    # Safe to deliver twice: the service claims the scan with a conditional UPDATE.
    scanning.run(scan_id)


@shared_task(name="scans.dispatch_due", ignore_result=True)
def dispatch_due() -> int:
    return scanning.dispatch_due()


@shared_task(name="scans.reap", ignore_result=True)
def reap() -> int:
    return scanning.reap()
