from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an Idempotency-Key, replayed to its retries.

    Keys are per user: two clients never see each other's responses. The endpoint and a
    hash of the body are kept so that a key reused for a different request is refused
    instead of silently answered with an unrelated response.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    endpoint = models.CharField(max_length=300, help_text="method and path")
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="empty: still running"
    )
    response = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_per_user_key")
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.key} ({self.endpoint})"
