"""Outbound webhooks: who subscribes to which events, and every delivery attempt's outcome."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from driftcontrol.crypto import SealedTextField
from driftcontrol.models.outbox import OutboxEvent


class PayloadVersion(models.IntegerChoices):
    CAMEL_CASE = 1, "1 (camelCase, deprecated)"
    SNAKE_CASE = 2, "2 (snake_case)"


class SeverityFloor(models.TextChoices):
    """The severities, lowest first (drift.models.Severity; a test keeps them equal)."""

    INFO = "info", "Info"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class WebhookSubscription(models.Model):
    """An HTTP endpoint that receives the outbox events it subscribed to, signed."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    # Sealed, not hashed: deliveries sign with it, so it must be readable by the sender.
    secret = SealedTextField(help_text="HMAC-SHA256 signing secret, encrypted; never shown")
    # The secret a rotation replaced, still signing (beside the new one) until the overlap
    # ends, so receivers can switch without losing a delivery.
    previous_secret = SealedTextField(help_text="the secret before the last rotation, sealed")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    event_types = models.JSONField(default=list, help_text='event types, or ["*"] for all')
    payload_version = models.PositiveSmallIntegerField(
        choices=PayloadVersion,
        default=PayloadVersion.SNAKE_CASE,
        help_text="1: the deprecated camelCase payloads; 2: snake_case, as the REST API",
    )
    # Filters applied at dispatch; empty means any. Names, not foreign keys: a subscription
    # may name a cluster before it is registered, and outlives one that is removed.
    clusters = models.JSONField(default=list, blank=True, help_text="cluster names, or empty")
    lanes = models.JSONField(default=list, blank=True, help_text="lane names, or empty")
    min_severity = models.CharField(
        max_length=10, blank=True, choices=SeverityFloor, help_text="the lowest severity sent"
    )
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types

    def signing_secrets(self, now: datetime) -> list[str]:
        """The sealed secrets deliveries are signed with now: the current one first, then
        the previous one while its overlap lasts."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and expires > now:
            return [self.secret, self.previous_secret]
        return [self.secret]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending (first try or retry scheduled)"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Given up"


class WebhookDelivery(models.Model):
    """One event sent to one subscription: its attempts, last response and last error."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due. An attempt in flight pushes it a lease ahead, so a
    # worker that dies mid-request leaves the delivery due again (at-least-once).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When a delivery task was last queued for it; the dispatcher queues again only if
    # that message seems lost, instead of flooding a busy queue every tick.
    queued_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    # The last attempt as sent and as answered, secrets redacted (webhooks/log.py), so a
    # failing integration can be debugged from the log alone.
    payload_version = models.PositiveSmallIntegerField(null=True, blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    response_truncated = models.BooleanField(
        default=False, help_text="the response body was longer than the log keeps"
    )
    # CASCADE, not SET_NULL: nulling it would turn a redelivery into a second "first"
    # delivery of its event and break the constraint below while deleting.
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="redeliveries"
    )
    requested_by = models.CharField(
        max_length=150, blank=True, help_text="who asked for a manual redelivery"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Dispatching the same event twice (two beat ticks racing) makes no second copy.
            models.UniqueConstraint(
                fields=["subscription", "event"],
                condition=models.Q(redelivery_of__isnull=True),
                name="delivery_one_per_event_and_subscription",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_idx",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["subscription", "-created_at"]),
            models.Index(fields=["event"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.subscription_id} ({self.status})"
