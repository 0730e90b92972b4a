"""How many violations of each alignment rule were open at the end of each day, read
from the findings' own first_seen and resolved_at (each finding is one episode: a
violation that comes back after resolving is a new finding).

Three grouped queries whatever the number of days and rules: what was open when the
period began, and what opened and resolved on each day of it; the days in between are
sums. Counts are grouped by cluster and namespace as well, so the caller's lane filter
(lanes own namespaces) applies in Python, as alignment.status applies it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from drift.models import OWNING_NAMESPACE, Finding

DAYS = 30
WEEK = 7


@dataclass(frozen=True)
class Trend:
    """One rule's open violations at the end of each day, oldest first."""

    days: tuple[date, ...]
    open: tuple[int, ...]

    @property
    def any_open(self) -> bool:
        """Whether a violation was open on any day of the period."""
        return any(self.open)

    @property
    def this_week(self) -> int:
        """Open now less open at the end of the day a week ago."""
        if len(self.open) <= WEEK:
            return self.open[-1] - self.open[0] if self.open else 0
        return self.open[-1] - self.open[-1 - WEEK]

    @property
    def words(self) -> str:
        """The week's change as one reads it without the chart: "+3 this week"."""
        change = self.this_week
        if change == 0:
            return "no change this week"
        return f"{change:+d} this week".replace("-", "\N{MINUS SIGN}")

    @property
    def points(self) -> list[Point]:
        return [Point(day, n) for day, n in zip(self.days, self.open, strict=True)]


class Point(NamedTuple):
    day: date
    open: int


def days_ending(today: date, days: int = DAYS) -> tuple[date, ...]:
    return tuple(today - timedelta(days=back) for back in range(days - 1, -1, -1))


def open_per_day(
    findings: QuerySet[Finding],
    today: date,
    keep: Callable[[str, str], bool] = lambda cluster, namespace: True,
    days: int = DAYS,
) -> dict[str, Trend]:
    """{rule id: its trend over ``days`` days ending ``today``} for the rules of
    ``findings`` (alignment findings, already narrowed to a cluster and to the statuses
    that count) whose (cluster name, namespace) ``keep`` accepts. A day runs from
    midnight to midnight in the current time zone; a violation counts on a day when it
    was open at the day's end. Rules with no violation in the period are left out."""
    period = days_ending(today, days)
    begins = _midnight(period[0])
    index = {day: position for position, day in enumerate(period)}
    changes: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    before = findings.filter(first_seen__lt=begins).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=begins)
    )
    for rule, _, n in _kept(_grouped(before), keep):
        changes[rule][0] += n
    for moment, sign in (("first_seen", 1), ("resolved_at", -1)):
        within = findings.filter(**{f"{moment}__gte": begins})
        for rule, day, n in _kept(_grouped(within, moment), keep):
            if day in index:  # a moment after today's end (a clock ahead) waits for its day
                changes[rule][index[day]] += sign * n
    return {
        rule: Trend(period, tuple(_running_sum(steps)))
        for rule, steps in sorted(changes.items())
        if any(_running_sum(steps))
    }


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _grouped(findings: QuerySet[Finding], moment: str | None = None) -> QuerySet[Finding]:
    columns = ["rule", "cluster__name", "owning_namespace"]
    findings = findings.annotate(owning_namespace=OWNING_NAMESPACE)
    if moment:
        findings = findings.annotate(day=TruncDate(moment))
        columns.append("day")
    return findings.order_by().values_list(*columns).annotate(n=Count("*"))


def _kept(
    rows: Iterable[Any], keep: Callable[[str, str], bool]
) -> Iterable[tuple[str, date | None, int]]:
    """(rule, day or None, count) of the rows whose cluster and namespace ``keep`` takes."""
    for rule, cluster_name, namespace, *day, n in rows:
        if keep(cluster_name, namespace):
            yield rule, (day[0] if day else None), n


def _running_sum(steps: list[int]) -> list[int]:
    total, sums = 0, []
    for step in steps:
        total += step
        sums.append(total)
    return sums
