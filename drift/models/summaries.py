from __future__ import annotations

from django.db import models


class StoredSummary(models.Model):
    """A figure too costly to compute per page view (MTTD/MTTR over 30 days at a million
    findings), computed by beat and read by everyone: one row per name."""

    name = models.CharField(max_length=100, unique=True)
    value = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.computed_at:%Y-%m-%d %H:%M}"
