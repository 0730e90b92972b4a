"""Where each alignment rule stands: open findings per rule, by cluster and lane, what
opened and resolved lately, and the last 30 days (the Alignment page and its API)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

from alignment import rules, scanning, trends
from drift.models import OWNING_NAMESPACE, Cluster, Finding, FindingStatus, FindingType

RECENT = timedelta(days=7)


@dataclass
class RuleState:
    rule: rules.Rule
    open: int = 0
    clusters: Counter[str] = field(default_factory=Counter)
    lanes: Counter[str] = field(default_factory=Counter)
    opened_recently: int = 0
    resolved_recently: int = 0
    trend: trends.Trend = trends.Trend((), ())

    @property
    def passing(self) -> bool:
        return self.open == 0

    # Lists for templates (a Counter answers any attribute lookup as a missing key: 0).
    @property
    def cluster_counts(self) -> list[tuple[str, int]]:
        return self.clusters.most_common()

    @property
    def lane_counts(self) -> list[tuple[str, int]]:
        return self.lanes.most_common()


def rule_states(
    now: datetime, cluster: str | None = None, lane: str | None = None
) -> list[RuleState]:
    """Every registered rule, failing ones first (most open findings), then by id, each
    with its open violations per day over the last trends.DAYS days (ending today)."""
    states = {rule_id: RuleState(rule) for rule_id, rule in rules.RULES.items()}
    aligned = Finding.objects.filter(type=FindingType.ALIGNMENT).exclude(rule="")
    if cluster:
        aligned = aligned.filter(cluster__name=cluster)
    owners = _lane_owners()
    # Counted as every page counts open drift: open and acknowledged (suppressed is accepted).
    grouped = (
        aligned.filter(status__in=[FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED])
        .annotate(owning_namespace=OWNING_NAMESPACE)
        .order_by()
        .values_list("rule", "cluster__name", "owning_namespace")
        .annotate(n=Count("*"))
    )

    def lanes_of(cluster_name: str, namespace: str) -> list[str]:
        return owners[cluster_name](namespace) if cluster_name in owners else []

    def keep(cluster_name: str, namespace: str) -> bool:
        return not lane or lane in lanes_of(cluster_name, namespace)

    for rule_id, cluster_name, namespace, n in grouped:
        lanes = lanes_of(cluster_name, namespace)
        if rule_id not in states or (lane and lane not in lanes):
            continue
        state = states[rule_id]
        state.open += n
        state.clusters[cluster_name] += n
        for name in lanes:
            state.lanes[name] += n
    _recent(states, aligned, now - RECENT, keep)
    # Over time, a violation suppressed now is left out on every day, as it is left out
    # of the open count: the ledger keeps when a finding resolved, not when it was accepted.
    period = trends.days_ending(timezone.localdate(now))
    counted_then = aligned.exclude(status=FindingStatus.SUPPRESSED)
    found = trends.open_per_day(counted_then, period[-1], keep)
    for rule_id, state in states.items():
        state.trend = found.get(rule_id) or trends.Trend(period, (0,) * len(period))
    return sorted(states.values(), key=lambda s: (s.passing, -s.open, s.rule.id))


def _lane_owners() -> dict[str, Callable[[str], list[str]]]:
    """Per cluster name: the names of its lanes that own a namespace."""
    owners = {}
    for cluster in Cluster.objects.prefetch_related("lanes"):
        specs = scanning.lane_specs(cluster.lanes.all())
        owners[cluster.name] = _owner_of(specs)
    return owners


def _owner_of(specs: tuple[rules.LaneSpec, ...]) -> Callable[[str], list[str]]:
    return lambda namespace: [spec.name for spec in specs if spec.owns(namespace)]


def _recent(
    states: dict[str, RuleState],
    aligned: QuerySet[Finding],
    since: datetime,
    keep: Callable[[str, str], bool],
) -> None:
    for moment, attribute in (
        ("first_seen", "opened_recently"),
        ("resolved_at", "resolved_recently"),
    ):
        counted = (
            aligned.filter(**{f"{moment}__gte": since})
            .annotate(owning_namespace=OWNING_NAMESPACE)
            .order_by()
            .values_list("rule", "cluster__name", "owning_namespace")
            .annotate(n=Count("*"))
        )
        for rule_id, cluster_name, namespace, n in counted:
            if rule_id in states and keep(cluster_name, namespace):
                setattr(states[rule_id], attribute, getattr(states[rule_id], attribute) + n)
