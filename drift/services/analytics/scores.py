"""The compliance score of a scope, and the findings that cost it the most points."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from drift.engine.severity import LEVELS
from drift.models import Finding, FindingStatus, RollupScope
from drift.services.analytics.scopes import objects_in_scope, scope_filter

WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}
MAX_WEIGHT = 10


@dataclass
class Score:
    value: float
    objects: int
    penalty: int
    by_severity: dict[str, int] = field(default_factory=dict)
    costs: list[dict[str, Any]] = field(default_factory=list)  # the breakdown, worst first

    def points(self, severity: str) -> float:
        """What one finding of ``severity`` costs in this scope."""
        return 100.0 * WEIGHTS[severity] / (MAX_WEIGHT * max(1, self.objects))


def score(
    scope: str = RollupScope.FLEET,
    scope_id: int | None = None,
    breakdown: int = 20,
    counts: dict[str, int] | None = None,
) -> Score:
    """The scope's score now, with the findings that cost the most points.

    ``counts`` (open and acknowledged findings by severity) saves the query when the caller
    has already counted the working set.
    """
    findings = (
        Finding.objects.open()
        .filter(scope_filter(scope, scope_id))
        .exclude(status=FindingStatus.SUPPRESSED)
    )
    if counts is None:
        # Counted over the whole working set (the partial index on open findings answers
        # it alone), leaving suppressed ones out afterwards.
        counts = defaultdict(int)
        for severity, status, n in (
            Finding.objects.open()
            .filter(scope_filter(scope, scope_id))
            .values_list("severity", "status")
            .annotate(n=Count("*"))
        ):
            if status != FindingStatus.SUPPRESSED:
                counts[severity] += n
    objects = objects_in_scope(scope, scope_id)
    penalty = sum(WEIGHTS[s] * n for s, n in counts.items())
    result = Score(
        score_of(penalty, objects),
        objects,
        penalty,
        {level: counts.get(level, 0) for level in reversed(LEVELS)},
    )
    for finding in findings.select_related("cluster").order_by("-severity_rank", "-last_seen")[
        :breakdown
    ]:
        result.costs.append(
            {
                "id": finding.pk,
                "severity": finding.severity,
                "kind": finding.kind,
                "namespace": finding.namespace,
                "name": finding.name,
                "cluster": finding.cluster.name,
                "points": round(result.points(finding.severity), 2),
            }
        )
    return result


def score_of(penalty: int, objects: int) -> float:
    """The score for a penalty (the weights of the open findings) over so many objects."""
    if objects <= 0:
        return 100.0 if penalty == 0 else 0.0
    return round(max(0.0, 100.0 * (1 - penalty / (MAX_WEIGHT * objects))), 1)
