from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from drift.models import Cluster


class PinQuerySet(models.QuerySet["ObjectPin"]):
    def active(self) -> PinQuerySet:
        return self.filter(released_at__isnull=True)


class ObjectPin(models.Model):
    """An object auto-remediation must leave alone (rolled back, or drifting back and forth)
    until someone unpins it or Git changes what it declares for it."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="pins")
    api_group = models.CharField(max_length=253, blank=True)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253)
    reason = models.TextField()
    desired_digest = models.CharField(
        max_length=64, blank=True, help_text="what Git declared when pinned; a change unpins"
    )
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    release_reason = models.TextField(blank=True)

    objects = PinQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "api_group", "kind", "namespace", "name"],
                condition=Q(released_at__isnull=True),
                name="pin_one_active_per_object",
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"pin on {self.kind} {where}{self.name}"
