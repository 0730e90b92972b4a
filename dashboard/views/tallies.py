"""Counts of open drift by severity: open and acknowledged findings, what the score counts
(suppressed ones are accepted for now, and every page leaves them out alike).

One grouped query by (cluster, severity) answers for clusters, lanes and the fleet alike:
lanes are sums of their clusters, read from the small cluster-lane table, so the findings
table is scanned once per page however many groups a page shows. No join and no DISTINCT
on the findings side, and COUNT(*) rather than COUNT(id): with a partial index on
(cluster, severity) of the working set, PostgreSQL answers from the index alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from dashboard.views.present import severity_list
from drift.models import Cluster, Finding, FindingStatus

Counts = dict[str, int]


def _add(into: Counts, counts: Counts) -> None:
    for severity, n in counts.items():
        into[severity] = into.get(severity, 0) + n


@dataclass
class OpenDrift:
    by_cluster: dict[int, Counts] = field(default_factory=dict)

    @classmethod
    def now(cls) -> OpenDrift:
        grouped: dict[int, Counts] = defaultdict(dict)
        rows = (
            Finding.objects.open()
            .order_by()
            .values_list("cluster_id", "severity", "status")
            .annotate(n=Count("*"))
        )
        for cluster_id, severity, status, n in rows:
            # Grouped by status too, and filtered here: the partial index on the working
            # set answers the whole count (see the module docstring).
            if status != FindingStatus.SUPPRESSED:
                grouped[cluster_id][severity] = grouped[cluster_id].get(severity, 0) + n
        return cls(dict(grouped))

    @property
    def counted(self) -> Counts:
        return self.fleet()

    def fleet(self) -> Counts:
        total: Counts = {}
        for counts in self.by_cluster.values():
            _add(total, counts)
        return total

    def by_lane(self) -> dict[int, Counts]:
        """{lane id: counts}; a cluster in two lanes counts in both."""
        lanes: dict[int, Counts] = defaultdict(dict)
        for cluster_id, lane_id in Cluster.lanes.through.objects.values_list(
            "cluster_id", "lane_id"
        ):
            _add(lanes[lane_id], self.by_cluster.get(cluster_id, {}))
        return dict(lanes)

    def named(self, names: dict[int, str], groups: dict[int, Counts]) -> dict[str, Counts]:
        return {names[key]: counts for key, counts in groups.items() if key in names and counts}


def of_score(score: Any) -> dict[str, Any]:
    """A list row's score and its open drift: exactly what that score counts."""
    counts = score.by_severity if score else {}
    return {"score": score, "open": severity_list(counts), "open_total": total(counts)}


def total(counts: Counts) -> int:
    return sum(counts.values())


def biggest(groups: dict[str, Counts], limit: int) -> tuple[dict[str, Counts], int]:
    """The ``limit`` groups with the most open drift, and how many were left out."""
    ranked = sorted(groups.items(), key=lambda item: (-total(item[1]), item[0]))
    return dict(ranked[:limit]), max(0, len(ranked) - limit)
