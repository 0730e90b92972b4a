from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker proved it consumes tasks (shown on the system page)."""

    hostname = models.CharField(max_length=200, unique=True)
    last_seen = models.DateTimeField()
    queues = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"
