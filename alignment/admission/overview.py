"""What the Admission page and /api/v1/admission/ show of the webhook's work, read once
here so the two cannot disagree: decisions over time by outcome (AdmissionTally, counted
per minute; summed per hour or per day over longer periods), counts by outcome, lane and
rule, the decisions kept (AdmissionDecision: warn, deny, break-glass; allows are only
counted), latency percentiles from the tallies' histograms, and where the webhook is
installed and whether a server answers it now.

Everything is read with a fixed number of queries, whatever the period and the fleet:
the histograms and the rules are summed by the database (JSON arrays taken apart in SQL,
in PostgreSQL and in the embedded SQLite alike).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import BooleanField, Max, OuterRef, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from alignment.admission import latency
from alignment.admission.availability import GRACE_HEARTBEATS
from alignment.admission.decide import OUTCOMES
from alignment.models import (
    AdmissionDecision,
    AdmissionInstallation,
    AdmissionServer,
    AdmissionTally,
)

# The outcomes kept as rows, with who asked and what: every other answer is an allow.
KEPT = tuple(outcome for outcome in OUTCOMES if outcome != "allow")
# Percentiles the page and the API give, with their names.
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


@dataclass(frozen=True)
class Period:
    """How far back the numbers go, and how the chart sums the minutes."""

    name: str  # as a query gives it
    words: str
    length: timedelta
    bucket: str  # minute | hour | day: what one bar of the chart counts

    @property
    def last(self) -> str:
        """The period in a sentence: "the last hour", "the last 7 days"."""
        return "the last hour" if self.length == timedelta(hours=1) else f"the last {self.words}"


PERIODS = {
    period.name: period
    for period in (
        Period("1h", "1 hour", timedelta(hours=1), "minute"),
        Period("6h", "6 hours", timedelta(hours=6), "minute"),
        Period("24h", "24 hours", timedelta(days=1), "hour"),
        Period("7d", "7 days", timedelta(days=7), "hour"),
        Period("30d", "30 days", timedelta(days=30), "day"),
    )
}
DEFAULT_PERIOD = "24h"


@dataclass(frozen=True)
class Scope:
    """What the numbers cover: the period up to ``until``, narrowed by the filters (an
    empty one narrows nothing)."""

    period: Period
    until: datetime
    cluster: str = ""
    lane: str = ""
    outcome: str = ""

    @property
    def since(self) -> datetime:
        return self.until - self.period.length


@dataclass
class Counts:
    """Decisions of one lane or rule (or all of them) by outcome."""

    name: str
    outcomes: dict[str, int] = field(default_factory=dict)
    dry_runs: int = 0

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def held(self) -> int:
        """Warned, refused or let through by break-glass: what someone may need to see."""
        return sum(self.outcomes.get(outcome, 0) for outcome in KEPT)

    def of(self, outcome: str) -> int:
        return self.outcomes.get(outcome, 0)


@dataclass(frozen=True)
class Series:
    """Decisions per bucket of time, one list per outcome aligned with ``times``."""

    bucket: str
    times: list[datetime]
    counts: dict[str, list[int]]


@dataclass(frozen=True)
class Latency:
    """How long the webhook took to decide, from the tallies' histograms: each percentile
    interpolated within the bucket it falls in (alignment.admission.latency), None when
    nothing was counted; max is the upper bound of the slowest bucket counted."""

    count: int
    mean_ms: float | None
    percentiles: dict[str, float | None]


@dataclass(frozen=True)
class Servers:
    """The runs of `drift admission serve`: those answering now, and the latest ones."""

    answering: list[AdmissionServer]
    recent: list[AdmissionServer]
    last_answered: datetime | None  # when one last answered, if one ever ran

    @property
    def up(self) -> bool:
        return bool(self.answering)


@dataclass(frozen=True)
class Installed:
    """The webhook on one cluster: its latest installation (removed, or in place) and
    whether a server answers it now; when none does, since when."""

    installation: AdmissionInstallation
    answering: bool
    silent_since: datetime | None

    @property
    def cluster(self) -> str:
        return self.installation.cluster.name

    @property
    def removed(self) -> bool:
        return self.installation.removed_at is not None


@dataclass(frozen=True)
class Summary:
    """Everything the page shows of one scope, but the lists of decisions."""

    scope: Scope
    outcomes: Counts
    lanes: list[Counts]
    rules: list[Counts]
    latency: Latency
    installed: list[Installed]
    servers: Servers


def scope_of(period: str = "", cluster: str = "", lane: str = "", outcome: str = "") -> Scope:
    """The scope a query names; an unknown period is the default one."""
    chosen = PERIODS.get(period) or PERIODS[DEFAULT_PERIOD]
    return Scope(chosen, timezone.now(), cluster=cluster, lane=lane, outcome=outcome)


def decisions(
    cluster: str = "",
    lane: str = "",
    outcome: str = "",
    rule: str = "",
    user: str = "",
    since: datetime | None = None,
) -> QuerySet[AdmissionDecision]:
    """The decisions kept, narrowed by the filters (empty ones filter nothing)."""
    found = AdmissionDecision.objects.select_related("cluster")
    if cluster:
        found = found.filter(cluster__name=cluster)
    if lane:
        found = found.filter(lane=lane)
    if outcome:
        found = found.filter(outcome=outcome)
    if user:
        found = found.filter(user=user)
    if since is not None:
        found = found.filter(at__gte=since)
    if rule:
        found = breaking(found, rule)
    return found


def breaking(found: QuerySet[AdmissionDecision], rule: str) -> QuerySet[AdmissionDecision]:
    """The decisions of ``found`` whose rules name ``rule``."""
    return found.alias(broke=_breaks(rule, found.db)).filter(broke=True)


def tallies(scope: Scope) -> QuerySet[AdmissionTally]:
    """The minutes of the scope's period, narrowed by its filters."""
    start = scope.since.replace(second=0, microsecond=0)
    found = AdmissionTally.objects.filter(minute__gte=start, minute__lte=scope.until)
    if scope.cluster:
        found = found.filter(cluster__name=scope.cluster)
    if scope.lane:
        found = found.filter(lane=scope.lane)
    if scope.outcome:
        found = found.filter(outcome=scope.outcome)
    return found


def in_scope(scope: Scope) -> QuerySet[AdmissionDecision]:
    """The decisions kept in the scope's period."""
    return decisions(scope.cluster, scope.lane, scope.outcome, since=scope.since).filter(
        at__lte=scope.until
    )


def over_time(scope: Scope) -> Series:
    """Decisions per minute, hour or day (as the period sums them), by outcome."""
    rows = (
        tallies(scope)
        .annotate(at=Trunc("minute", scope.period.bucket))
        .values("at", "outcome")
        .annotate(n=Sum("count"))
        .order_by("at")
    )
    times: list[datetime] = []
    by_time: dict[datetime, dict[str, int]] = {}
    for row in rows:
        if row["at"] not in by_time:
            times.append(row["at"])
            by_time[row["at"]] = {}
        by_time[row["at"]][row["outcome"]] = row["n"]
    counts = {o: [by_time[t].get(o, 0) for t in times] for o in OUTCOMES}
    return Series(scope.period.bucket, times, counts)


def by_lane(scope: Scope) -> tuple[Counts, list[Counts]]:
    """All decisions of the scope by outcome, and each lane's (the most held back first;
    "" is the changes no lane owns)."""
    rows = (
        tallies(scope)
        .values("lane", "outcome")
        .annotate(n=Sum("count"), dry=Sum("dry_runs"))
        .order_by()
    )
    everything, lanes = Counts("all"), dict[str, Counts]()
    for row in rows:
        lane = lanes.setdefault(row["lane"], Counts(row["lane"]))
        for counts in (everything, lane):
            counts.outcomes[row["outcome"]] = counts.of(row["outcome"]) + row["n"]
            counts.dry_runs += row["dry"]
    ranked = sorted(lanes.values(), key=lambda c: (-c.held, -c.total, c.name))
    return everything, ranked


def by_rule(scope: Scope) -> list[Counts]:
    """Each rule broken by the decisions kept in the scope, by outcome, the most first."""
    rules: dict[str, Counts] = {}
    for rule, outcome, n in _rule_counts(in_scope(scope)):
        counts = rules.setdefault(rule, Counts(rule))
        counts.outcomes[outcome] = n
    return sorted(rules.values(), key=lambda c: (-c.total, c.name))


def latency_of(scope: Scope) -> Latency:
    """Percentiles of the time to decide, over every decision counted in the scope."""
    found = tallies(scope)
    totals = found.aggregate(n=Sum("count"), ms=Sum("latency_sum_ms"))
    count = totals["n"] or 0
    buckets = _histogram(found)
    return Latency(
        count=count,
        mean_ms=round(totals["ms"] / count, 2) if count and totals["ms"] is not None else None,
        percentiles={
            name: latency.percentile(buckets, q) if count else None for name, q in PERCENTILES
        },
    )


def servers(now: datetime) -> Servers:
    """Who answers now: a run not stopped and seen within a few heartbeats (a run that
    died without saying so is taken as gone, as alignment.admission.availability takes it)."""
    grace = timedelta(seconds=GRACE_HEARTBEATS * settings.ADMISSION_HEARTBEAT_SECONDS)
    answering = AdmissionServer.objects.filter(stopped_at__isnull=True, seen_at__gte=now - grace)
    last = AdmissionServer.objects.aggregate(at=Max(Coalesce("stopped_at", "seen_at")))["at"]
    return Servers(
        answering=list(answering.order_by("-seen_at")),
        recent=list(AdmissionServer.objects.all()[:5]),
        last_answered=last,
    )


def installed(scope: Scope, running: Servers) -> list[Installed]:
    """Each cluster's latest installation (the scope's cluster only, when it names one)."""
    latest = AdmissionInstallation.objects.filter(cluster=OuterRef("cluster")).order_by(
        "-installed_at", "-id"
    )
    rows = AdmissionInstallation.objects.filter(pk=Subquery(latest.values("pk")[:1]))
    if scope.cluster:
        rows = rows.filter(cluster__name=scope.cluster)
    found = []
    for row in rows.select_related("cluster").order_by("cluster__name"):
        answering = running.up and row.removed_at is None
        silent = None
        if not answering and row.removed_at is None:
            # Silent since the later of the install and the last answer.
            silent = max(row.installed_at, running.last_answered or row.installed_at)
        found.append(Installed(row, answering, silent))
    return found


def summary(scope: Scope) -> Summary:
    everything, lanes = by_lane(scope)
    running = servers(scope.until)
    return Summary(
        scope=scope,
        outcomes=everything,
        lanes=lanes,
        rules=by_rule(scope),
        latency=latency_of(scope),
        installed=installed(scope, running),
        servers=running,
    )


def anything_recorded() -> bool:
    """Whether the webhook was ever installed or ever decided anything."""
    return (
        AdmissionInstallation.objects.exists()
        or AdmissionTally.objects.exists()
        or AdmissionServer.objects.exists()
    )


# JSON arrays, taken apart by the database: the rules of each decision, and the buckets
# of each tally's histogram. The rows come from the ORM's query (its filters), wrapped.


def _elements(found: QuerySet[Any], column: str, *more: str) -> tuple[str, list[Any], str]:
    """(SQL selecting ``column`` and ``more`` of ``found`` as t, joined with each element
    of t.<column> as e(value, place), its parameters, the place's expression)."""
    inner, params = found.order_by().values(column, *more).query.sql_with_params()
    if connections[found.db].vendor == "postgresql":
        each = (
            f"CROSS JOIN LATERAL jsonb_array_elements_text(t.{column}) "
            "WITH ORDINALITY AS e(value, place)"
        )
        return f"FROM ({inner}) AS t {each}", list(params), "e.place - 1"
    return f"FROM ({inner}) AS t, json_each(t.{column}) AS e", list(params), "e.key"


def _rule_counts(found: QuerySet[AdmissionDecision]) -> list[tuple[str, str, int]]:
    source, params, _ = _elements(found, "rules", "outcome")
    sql = f"SELECT e.value, t.outcome, COUNT(*) {source} GROUP BY e.value, t.outcome"
    with connections[found.db].cursor() as cursor:
        cursor.execute(sql, params)
        return [(str(rule), outcome, int(n)) for rule, outcome, n in cursor.fetchall()]


def _breaks(rule: str, using: str) -> RawSQL:
    """Whether a decision's rules name ``rule``."""
    rules = f'"{AdmissionDecision._meta.db_table}"."rules"'
    each = (
        f"jsonb_array_elements_text({rules}) AS e(value)"
        if connections[using].vendor == "postgresql"
        else f"json_each({rules}) AS e"
    )
    sql = f"EXISTS (SELECT 1 FROM {each} WHERE e.value = %s)"
    return RawSQL(sql, (rule,), output_field=BooleanField())


def _histogram(found: QuerySet[AdmissionTally]) -> list[int]:
    """The tallies' latency histograms summed bucket by bucket."""
    source, params, place = _elements(found, "latency_buckets")
    sql = f"SELECT {place}, SUM(CAST(e.value AS BIGINT)) {source} GROUP BY {place}"
    with connections[found.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    summed = latency.empty()
    for place_of, n in rows:
        if 0 <= int(place_of) < len(summed):
            summed[int(place_of)] += int(n)
    return summed
