from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class OutboxEventQuerySet(models.QuerySet["OutboxEvent"]):
    def pending(self) -> OutboxEventQuerySet:
        return self.filter(dispatched_at__isnull=True).order_by("created_at")


class OutboxEvent(models.Model):
    """An event for subscribers (webhooks, notifications), written with the change it reports.

    Because it commits or rolls back with that change, an event is never sent for a
    change that did not happen, and never lost when the broker or workers are down:
    delivery reads this table, not a queue.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["event_type", "-created_at"]),
            models.Index(
                fields=["created_at"],
                name="outbox_pending_idx",
                condition=models.Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"
