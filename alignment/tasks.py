"""Alignment's Celery tasks: thin wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from alignment import audit_feed
from alignment.admission import verification


@shared_task(name="audit_feed.prune", ignore_result=True)
def prune_writes() -> int:
    """Forget the audit feed's writes older than KUBE_WRITES_RETENTION_DAYS."""
    return audit_feed.prune()


@shared_task(name="admission.verify_images", ignore_result=True)
def verify_images(cluster_id: int, lane: str, images: list[str]) -> int:
    """Verify images the admission webhook let through unverified (queued by its recorder),
    so that its next refresh knows them."""
    return verification.verify_images(cluster_id, lane, images)
