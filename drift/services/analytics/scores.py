"""The compliance score of a scope, and the findings that cost it the most points."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from drift.engine.severity import LEVELS
from drift.models import (
    Cluster,
    DriftPolicy,
    Finding,
    FindingStatus,
    FindingType,
    Lane,
    RollupScope,
)
from drift.services.analytics.scopes import objects_by_pair, objects_in_scope, scope_filter

WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}
MAX_WEIGHT = 10


@dataclass
class Score:
    value: float
    objects: int
    penalty: int
    by_severity: dict[str, int] = field(default_factory=dict)
    costs: list[dict[str, Any]] = field(default_factory=list)  # the breakdown, worst first
    # The penalty's points from alignment findings; the rest is drift's (score() only).
    alignment_penalty: int = 0

    @property
    def drift_penalty(self) -> int:
        return self.penalty - self.alignment_penalty

    @staticmethod
    def points(severity: str) -> int:
        """What one finding of ``severity`` costs, in penalty points: its weight, the same
        in every scope (what it costs a score depends on the scope's size; points do not)."""
        return WEIGHTS[severity]


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
    penalty = penalty_of(counts)
    result = Score(
        score_of(penalty, objects),
        objects,
        penalty,
        {level: counts.get(level, 0) for level in reversed(LEVELS)},
    )
    # Alignment findings are few next to drift: counted apart, from the rule index.
    aligned = findings.exclude(rule="").filter(type=FindingType.ALIGNMENT)
    result.alignment_penalty = penalty_of(
        dict(aligned.order_by().values_list("severity").annotate(n=Count("*")))
    )
    worst = findings.select_related("cluster").order_by("-severity_rank", "-last_seen", "-pk")
    for finding in worst.page(0, breakdown):
        result.costs.append(
            {
                "id": finding.pk,
                "type": finding.type,
                "rule": finding.rule,
                "severity": finding.severity,
                "kind": finding.kind,
                "namespace": finding.namespace,
                "name": finding.name,
                "cluster": finding.cluster.name,
                "points": result.points(finding.severity),
            }
        )
    return result


def scores(scope: str) -> dict[int, Score]:
    """Every cluster's, lane's or policy's score now, by id, without breakdowns: the same
    figures as score(scope, id), from two grouped queries for the whole list."""
    if scope not in (RollupScope.CLUSTER, RollupScope.LANE, RollupScope.POLICY):
        raise ValueError(f"scores() covers clusters, lanes and policies, not {scope}")
    keys = _keys_of(scope)
    counts: dict[int, dict[str, int]] = {key: defaultdict(int) for key in keys.all}
    for cluster_id, policy_id, severity, n in (
        Finding.objects.open()
        .exclude(status=FindingStatus.SUPPRESSED)
        .order_by()
        .values_list("cluster_id", "policy_id", "severity")
        .annotate(n=Count("*"))
    ):
        for key in keys.of(cluster_id, policy_id):
            counts[key][severity] += n
    objects: dict[int, int] = dict.fromkeys(keys.all, 0)
    for (cluster_id, policy_id), n in objects_by_pair().items():
        for key in keys.of(cluster_id, policy_id):
            objects[key] += n
    result = {}
    for key, summed in counts.items():
        penalty = penalty_of(summed)
        by_severity = {level: summed.get(level, 0) for level in reversed(LEVELS)}
        result[key] = Score(score_of(penalty, objects[key]), objects[key], penalty, by_severity)
    return result


@dataclass
class _Keys:
    """Which scope ids a (cluster, policy) pair counts toward."""

    scope: str
    all: list[int]
    lanes_of: dict[int, list[int]] = field(default_factory=dict)

    def of(self, cluster_id: int, policy_id: int | None) -> list[int]:
        if self.scope == RollupScope.CLUSTER:
            return [cluster_id]
        if self.scope == RollupScope.POLICY:
            return [policy_id] if policy_id in self.all else []
        return self.lanes_of.get(cluster_id, [])


def _keys_of(scope: str) -> _Keys:
    if scope == RollupScope.CLUSTER:
        return _Keys(scope, list(Cluster.objects.values_list("pk", flat=True)))
    if scope == RollupScope.POLICY:
        return _Keys(scope, list(DriftPolicy.objects.values_list("pk", flat=True)))
    lanes_of: dict[int, list[int]] = defaultdict(list)
    for cluster_id, lane_id in Cluster.lanes.through.objects.values_list("cluster_id", "lane_id"):
        lanes_of[cluster_id].append(lane_id)
    return _Keys(scope, list(Lane.objects.values_list("pk", flat=True)), dict(lanes_of))


def penalty_of(counts: dict[str, int]) -> int:
    """The penalty points of counted findings by severity (the one place they are summed)."""
    return sum(WEIGHTS[severity] * n for severity, n in counts.items() if severity in WEIGHTS)


def score_of(penalty: int, objects: int) -> float:
    """The score for a penalty (the weights of the open findings) over so many objects."""
    if objects <= 0:
        return 100.0 if penalty == 0 else 0.0
    return round(max(0.0, 100.0 * (1 - penalty / (MAX_WEIGHT * objects))), 1)
