"""Alignment's Celery tasks: thin wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from alignment import audit_feed


@shared_task(name="audit_feed.prune", ignore_result=True)
def prune_writes() -> int:
    """Forget the audit feed's writes older than KUBE_WRITES_RETENTION_DAYS."""
    return audit_feed.prune()
