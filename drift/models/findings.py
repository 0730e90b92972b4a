from __future__ import annotations

import hashlib

from django.db import models
from django.utils import timezone

from drift.models.choices import FindingStatus, FindingType, Severity
from drift.models.clusters import Cluster
from drift.models.policies import DriftPolicy
from drift.models.scans import Scan


def fingerprint(
    cluster_id: int, group: str, kind: str, namespace: str, name: str, finding_type: str
) -> str:
    """Identity of a drifted object across scans: the same object and type upsert one row."""
    key = "\x1f".join([str(cluster_id), group, kind, namespace, name, finding_type])
    return hashlib.sha256(key.encode()).hexdigest()


class FindingQuerySet(models.QuerySet["Finding"]):
    def open(self) -> FindingQuerySet:
        """Findings still in the ledger's working set (open, acknowledged or suppressed)."""
        return self.exclude(status=FindingStatus.RESOLVED)

    def resolved(self) -> FindingQuerySet:
        return self.filter(status=FindingStatus.RESOLVED)


class Finding(models.Model):
    """One drifted object (or alignment violation) on one cluster, tracked over its life."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="findings")
    policy = models.ForeignKey(
        DriftPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    last_scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_group = models.CharField(max_length=253, blank=True)
    api_version = models.CharField(max_length=63)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253)
    source = models.CharField(max_length=500, blank=True, help_text="manifest file and line in Git")
    type = models.CharField(max_length=16, choices=FindingType)
    severity = models.CharField(max_length=16, choices=Severity)
    status = models.CharField(max_length=16, choices=FindingStatus, default=FindingStatus.OPEN)
    status_reason = models.TextField(blank=True)
    suppressed_until = models.DateTimeField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, editable=False)
    diff = models.JSONField(
        default=dict, blank=True, help_text="paths, RFC 6902 patch, desired and live values"
    )
    attribution = models.JSONField(
        default=list, blank=True, help_text="field managers that wrote the drifted fields"
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    drift_started_at = models.DateTimeField(
        null=True, blank=True, help_text="when the change happened, from managedFields"
    )
    occurrences = models.PositiveIntegerField(default=1)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            # One working-set row per object and type; resolved rows are history.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=~models.Q(status=FindingStatus.RESOLVED),
                name="finding_one_open_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity", "-last_seen"]),
            models.Index(fields=["cluster", "status", "-last_seen"]),
            models.Index(fields=["policy", "status"]),
            models.Index(fields=["kind", "namespace", "name"]),
            models.Index(fields=["fingerprint", "-last_seen"]),
            models.Index(fields=["-first_seen"]),
            models.Index(fields=["-resolved_at"]),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.type} {self.kind} {where}{self.name}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(
                self.cluster_id, self.api_group, self.kind, self.namespace, self.name, self.type
            )
        super().save(*args, **kwargs)  # type: ignore[arg-type]
