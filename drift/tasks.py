"""Celery tasks for drift detection: thin wrappers that take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from drift.services import scanning


@shared_task(name=scanning.RUN_SCAN, ignore_result=True)
def run_scan(scan_id: int) -> None:
    # Safe to deliver twice: the service claims the scan with a conditional UPDATE.
    scanning.run(scan_id)


@shared_task(name="scans.dispatch_due", ignore_result=True)
def dispatch_due() -> int:
    return scanning.dispatch_due()


@shared_task(name="scans.reap", ignore_result=True)
def reap() -> int:
    return scanning.reap()


@shared_task(name="analytics.rollup_recent", ignore_result=True)
def rollup_recent() -> int:
    """Today's rollups so far, and yesterday's final ones."""
    from datetime import timedelta

    from django.utils import timezone

    from drift.services import analytics

    today = timezone.localdate()
    analytics.refresh_recent_timings()
    return analytics.rollup(today - timedelta(days=1)) + analytics.rollup(today)


@shared_task(name="findings.end_expired_suppressions", ignore_result=True)
def end_expired_suppressions() -> int:
    from drift.services import triage

    return triage.end_expired_suppressions()
