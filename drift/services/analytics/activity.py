"""What keeps happening: findings whose drift comes back, and each cluster's last scan."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max, QuerySet

from drift.models import Cluster, Finding


def most_recurrent(limit: int = 10) -> list[Finding]:
    """Open findings whose drift came back most often (occurrences counts episodes)."""
    return (
        Finding.objects.open()
        .filter(occurrences__gt=1)
        .select_related("cluster")
        .order_by("-occurrences", "-last_seen", "-pk")
        .page(0, limit)
    )


def last_scan_of(clusters: QuerySet[Cluster]) -> dict[int, datetime | None]:
    return dict(clusters.annotate(at=Max("scans__finished_at")).values_list("pk", "at"))
