from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from drift.engine.severity import rank
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
    # The severity as a number (info 0 .. critical 4), so lists sort by it in the database.
    severity_rank = models.PositiveSmallIntegerField(default=0, editable=False)
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
    ticket_id = models.CharField(
        max_length=200, blank=True, help_text="the external ticket tracking this finding"
    )
    ticket_url = models.URLField(max_length=500, blank=True)
    # The episode this one repeats (same fingerprint, resolved before this opened): a
    # ticketing integration reopens that ticket instead of filing a new one.
    recurrence_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="recurrences"
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # When something a client syncs last changed: status, severity, triage, the ticket,
    # the drift itself. Not when a scan merely sees the same drift again (last_seen moves
    # alone), so `?updated_since=` hands a sync client real changes only.
    updated_at = models.DateTimeField(default=timezone.now)

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
            # The working set is a small slice of the table: partial indexes keep the
            # dashboard's default views (open findings, newest first) fast at millions.
            models.Index(
                fields=["-last_seen"],
                name="finding_open_last_seen",
                condition=~models.Q(status=FindingStatus.RESOLVED),
            ),
            models.Index(
                fields=["-severity_rank", "-last_seen"],
                name="finding_open_severity",
                condition=~models.Q(status=FindingStatus.RESOLVED),
            ),
            # Counts of the working set by cluster (or policy), severity and status, from
            # the index alone: the overview, the score and the inventory pages.
            models.Index(
                fields=["cluster", "severity", "status"],
                name="finding_open_cluster_severity",
                condition=~models.Q(status=FindingStatus.RESOLVED),
            ),
            models.Index(
                fields=["policy", "severity", "status"],
                name="finding_open_policy_severity",
                condition=~models.Q(status=FindingStatus.RESOLVED),
            ),
            # MTTD and MTTR read two timestamps of a period's findings: covering indexes
            # answer them without touching the table.
            models.Index(
                fields=["first_seen"],
                include=["drift_started_at"],
                name="finding_detection_times",
                condition=models.Q(drift_started_at__isnull=False),
            ),
            models.Index(
                fields=["resolved_at"],
                include=["first_seen"],
                name="finding_resolution_times",
                condition=models.Q(resolved_at__isnull=False),
            ),
            models.Index(
                fields=["-occurrences"],
                name="finding_open_occurrences",
                condition=~models.Q(status=FindingStatus.RESOLVED),
            ),
            # Not unique: a recurrence carries its predecessor's ticket, and each episode
            # keeps the ticket it had, so one ticket lists the whole history of a drift.
            models.Index(
                fields=["ticket_id"], name="finding_ticket", condition=~models.Q(ticket_id="")
            ),
            # Incremental sync pages by (updated_at, id) from `?updated_since=`.
            models.Index(fields=["updated_at", "id"], name="finding_updated"),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.type} {self.kind} {where}{self.name}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.severity_rank = rank(self.severity) if self.severity else 0
        if not self.fingerprint:
            self.fingerprint = fingerprint(
                self.cluster_id, self.api_group, self.kind, self.namespace, self.name, self.type
            )
        super().save(*args, **kwargs)  # type: ignore[arg-type]
