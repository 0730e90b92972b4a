from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from django.conf import settings
from django.db import models
from django.utils import timezone

from drift.engine.severity import rank
from drift.models.choices import FindingStatus, FindingType, Severity
from drift.models.clusters import Cluster
from drift.models.policies import DriftPolicy
from drift.models.scans import Scan
from drift.models.sightings import ScopeSighting

# The namespace whose lane a finding belongs to: its object's, or, for a finding about a
# Namespace itself (what a lane requires of it), the Namespace's own name.
OWNING_NAMESPACE = models.Case(
    models.When(kind="Namespace", api_group="", then=models.F("name")),
    default=models.F("namespace"),
    output_field=models.CharField(),
)


def fingerprint(
    cluster_id: int,
    group: str,
    kind: str,
    namespace: str,
    name: str,
    finding_type: str,
    rule: str = "",
) -> str:
    """Identity of a drifted object across scans: the same object and type upsert one row
    (and, for alignment, the same rule: one object may break several)."""
    parts = [str(cluster_id), group, kind, namespace, name, finding_type]
    key = "\x1f".join([*parts, rule] if rule else parts)
    return hashlib.sha256(key.encode()).hexdigest()


# An open finding that follows its scope was seen whenever its scope was (a complete pass of
# its policy over its cluster vouches for every open finding it neither saw changed nor
# resolved); otherwise at its own sighting. See drift.services.ledger.
_VOUCHED = (
    models.Q(follows_scope=True)
    & ~models.Q(status=FindingStatus.RESOLVED)
    & models.Q(scope__seen_at__gt=models.F("sighted_at"))
)
LAST_SEEN = models.Case(
    models.When(_VOUCHED, then=models.F("scope__seen_at")), default=models.F("sighted_at")
)
LAST_SCAN = models.Case(
    models.When(_VOUCHED, then=models.F("scope__scan_id")), default=models.F("sighted_by_id")
)
SIGHTING = {"last_seen": LAST_SEEN, "last_scan_id": LAST_SCAN}


class FindingQuerySet(models.QuerySet["Finding"]):
    def open(self) -> FindingQuerySet:
        """Findings still in the ledger's working set (open, acknowledged or suppressed)."""
        return self.exclude(status=FindingStatus.RESOLVED)

    def resolved(self) -> FindingQuerySet:
        return self.filter(status=FindingStatus.RESOLVED)

    def page(self, start: int, stop: int) -> list[Finding]:
        """Rows ``start`` to ``stop`` of this ordered queryset, found by id first.

        Ordered by last seen, PostgreSQL sorts every matching row before the LIMIT, and
        whole rows are wide (the diff): the ids are sorted from the narrow covering index
        on the working set (finding_open_sighting), and only the page is read whole.
        """
        ids = list(self.values_list("pk", flat=True)[start:stop])
        rows = self.order_by().filter(pk__in=ids).in_bulk()
        return [rows[pk] for pk in ids if pk in rows]

    def select_for_update(
        self,
        nowait: bool = False,
        skip_locked: bool = False,
        of: Sequence[str] = (),
        no_key: bool = False,
    ) -> FindingQuerySet:
        # Lock the findings only: rows carry their scope's sighting through an outer join,
        # whose nullable side PostgreSQL refuses to lock.
        return super().select_for_update(
            nowait=nowait, skip_locked=skip_locked, of=of or ("self",), no_key=no_key
        )


_Manager = models.Manager.from_queryset(FindingQuerySet)


class FindingManager(_Manager["Finding"]):
    """Every finding read through ``Finding.objects`` carries its exact ``last_seen`` and
    ``last_scan_id`` (one LEFT JOIN on the small scope table, which PostgreSQL drops from
    queries that read neither)."""

    def get_queryset(self) -> FindingQuerySet:
        rows = super().get_queryset().annotate(**SIGHTING)
        return cast(FindingQuerySet, rows)


class Finding(models.Model):
    """One drifted object (or alignment violation) on one cluster, tracked over its life."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="findings")
    policy = models.ForeignKey(
        DriftPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    # The finding's own sighting: written when it opens, when what it says changes, when
    # it resolves, and when its scope stops vouching for it. Read `last_seen` and
    # `last_scan_id` (annotated by the manager), which count the scope's sightings too.
    sighted_by = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_group = models.CharField(max_length=253, blank=True)
    api_version = models.CharField(max_length=63)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253)
    source = models.CharField(max_length=500, blank=True, help_text="manifest file and line in Git")
    type = models.CharField(max_length=16, choices=FindingType)
    # The alignment rule broken (alignment.rules), empty for drift.
    rule = models.CharField(max_length=64, blank=True, default="", db_default="")
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
    sighted_at = models.DateTimeField(default=timezone.now)
    # False after a complete pass of its policy could not tell (its kind unreadable, its
    # manifest broken): until seen again, later passes do not vouch for it.
    follows_scope = models.BooleanField(default=True, db_default=True)
    scope = models.ForeignObject(
        ScopeSighting,
        on_delete=models.DO_NOTHING,
        from_fields=["policy", "cluster"],
        to_fields=["policy", "cluster"],
        null=True,
        related_name="+",
    )
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

    objects = FindingManager()
    # Computed by FindingManager on every read (no columns): the finding's last sighting,
    # its own or its scope's, and the scan that made it.
    last_seen: datetime
    last_scan_id: int | None

    class Meta:
        ordering = ["-sighted_at"]
        constraints = [
            # One working-set row per object and type; resolved rows are history.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=~models.Q(status=FindingStatus.RESOLVED),
                name="finding_one_open_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity", "-sighted_at"]),
            models.Index(fields=["cluster", "status", "-sighted_at"]),
            models.Index(fields=["policy", "status"]),
            models.Index(fields=["kind", "namespace", "name"]),
            models.Index(
                fields=["rule", "status"],
                name="finding_rule",
                condition=~models.Q(rule=""),
            ),
            models.Index(fields=["fingerprint", "-sighted_at"]),
            models.Index(fields=["-first_seen"]),
            models.Index(fields=["-resolved_at"]),
            # The working set is a small slice of the table: partial indexes keep the
            # dashboard's views fast at millions. This one holds everything the working
            # set's last seen needs (and the filters on status, severity and cluster), so
            # the default sort (worst first, then last seen) reads it alone: `page()`.
            models.Index(
                fields=["-severity_rank", "id"],
                include=[
                    "policy",
                    "cluster",
                    "sighted_at",
                    "follows_scope",
                    "status",
                    "severity",
                    "occurrences",
                ],
                name="finding_open_sighting",
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
                self.cluster_id,
                self.api_group,
                self.kind,
                self.namespace,
                self.name,
                self.type,
                self.rule,
            )
        super().save(*args, **kwargs)  # type: ignore[arg-type]
