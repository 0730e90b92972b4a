from __future__ import annotations

from django.db import models

from drift.models.clusters import Cluster
from drift.models.findings import Finding


class SnapshotReason(models.TextChoices):
    FINDING_OPENED = "finding-opened", "When the finding opened"
    BEFORE_REMEDIATION = "before-remediation", "Before a remediation touched it"


class ObjectSnapshot(models.Model):
    """An object as the cluster held it at a moment, redacted of Secret values: what a
    rollback restores."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="snapshots")
    api_group = models.CharField(max_length=253, blank=True)
    api_version = models.CharField(max_length=100)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253)
    manifest = models.JSONField(help_text="the object without server-managed fields")
    resource_version = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=20, choices=SnapshotReason)
    finding = models.ForeignKey(
        Finding, null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshots"
    )
    request_id = models.BigIntegerField(
        null=True, blank=True, help_text="the remediation request it was taken for"
    )
    redacted = models.BooleanField(default=False, help_text="Secret values are not kept")
    taken_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [
            models.Index(fields=["cluster", "api_group", "kind", "namespace", "name", "-taken_at"]),
            models.Index(fields=["request_id"]),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"snapshot of {self.kind} {where}{self.name} ({self.reason})"
