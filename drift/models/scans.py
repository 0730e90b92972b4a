from __future__ import annotations

from django.conf import settings
from django.db import models

from drift.models.choices import ScanStatus, ScanTrigger
from drift.models.clusters import Cluster
from drift.models.policies import DriftPolicy


class ScanQuerySet(models.QuerySet["Scan"]):
    def running(self) -> ScanQuerySet:
        return self.filter(status__in=[ScanStatus.QUEUED, ScanStatus.RUNNING])


class Scan(models.Model):
    """One comparison of one policy on one cluster: its progress, evidence and outcome."""

    policy = models.ForeignKey(DriftPolicy, on_delete=models.CASCADE, related_name="scans")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="scans")
    status = models.CharField(max_length=16, choices=ScanStatus, default=ScanStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=ScanTrigger, default=ScanTrigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life of the worker running it"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    revision = models.CharField(max_length=64, blank=True, help_text="Git commit scanned")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    objects_desired = models.PositiveIntegerField(default=0)
    objects_live = models.PositiveIntegerField(default=0)
    findings_open = models.PositiveIntegerField(default=0)
    findings_opened = models.PositiveIntegerField(default=0)
    findings_resolved = models.PositiveIntegerField(default=0)
    partial = models.BooleanField(
        default=False, help_text="some evidence could not be read; see the reason"
    )
    partial_reason = models.TextField(blank=True)
    problems = models.JSONField(
        default=list, blank=True, help_text="files that did not parse, kinds that could not be read"
    )
    error = models.TextField(blank=True)

    objects = ScanQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Never two scans of the same policy on the same cluster at once.
            models.UniqueConstraint(
                fields=["policy", "cluster"],
                condition=models.Q(status__in=["queued", "running"]),
                name="scan_one_active_per_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["policy", "cluster", "-created_at"]),
            models.Index(fields=["cluster", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"scan {self.pk} of {self.policy_id}/{self.cluster_id} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))
