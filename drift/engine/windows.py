"""Change windows: when a policy lets approved remediations run.

A window is a cron expression (minute hour day-of-month month day-of-week, in the window's
time zone) for when it opens, and a duration for how long it stays open, e.g. every
weekday at 22:00 Europe/Berlin for 2 hours: {cron: "0 22 * * 1-5", duration: "2h",
timeZone: "Europe/Berlin"}. No windows at all means always open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drift.engine.rules import Problem

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
MAX_DURATION = timedelta(days=7)


def parse_duration(text: str) -> timedelta | None:
    """ "90m", "2h", "1d12h"; None when it is not a duration."""
    match = _DURATION.match(text or "")
    if not text or not match:
        return None
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError("a step must be at least 1")
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-", 1)
            start, end = int(start_text), int(end_text)
        else:
            start = end = int(part)
        if start < low or end > high or start > end:
            raise ValueError(f"{part} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday, like cron
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError("expected 5 fields: minute hour day-of-month month day-of-week")
        parsed = []
        for value, (low, high), name in zip(fields, _RANGES, _FIELD_NAMES, strict=True):
            # Cron also writes Sunday as 7.
            high = 7 if name == "day of week" else high
            try:
                values = _field(value, low, high)
            except ValueError as error:
                raise ValueError(f"{name} {value!r}: {error}") from None
            parsed.append(frozenset(v % 7 for v in values) if name == "day of week" else values)
        minutes, hours, days, months, weekdays = parsed
        return cls(
            minutes,
            hours,
            days,
            months,
            weekdays,
            any_day=fields[2] == "*",
            any_weekday=fields[4] == "*",
        )

    def matches(self, moment: datetime) -> bool:
        if (
            moment.minute not in self.minutes
            or moment.hour not in self.hours
            or moment.month not in self.months
        ):
            return False
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        # Cron's rule: when both day fields are restricted, either one may match.
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday


@dataclass(frozen=True)
class Window:
    cron: Cron
    duration: timedelta
    zone: ZoneInfo

    @classmethod
    def of(cls, document: dict[str, Any]) -> Window:
        duration = parse_duration(str(document.get("duration", "")))
        if duration is None:
            raise ValueError("invalid duration")
        return cls(
            Cron.parse(str(document["cron"])),
            duration,
            ZoneInfo(str(document.get("timeZone") or "UTC")),
        )

    def open_at(self, moment: datetime) -> bool:
        """Whether a window opening in the last `duration` covers ``moment``."""
        local = moment.astimezone(self.zone).replace(second=0, microsecond=0)
        minutes = int(self.duration.total_seconds() // 60)
        return any(self.cron.matches(local - timedelta(minutes=back)) for back in range(minutes))

    def next_opening(
        self, moment: datetime, horizon: timedelta = timedelta(days=8)
    ) -> datetime | None:
        local = moment.astimezone(self.zone).replace(second=0, microsecond=0)
        for ahead in range(1, int(horizon.total_seconds() // 60)):
            candidate = local + timedelta(minutes=ahead)
            if self.cron.matches(candidate):
                return candidate.astimezone(UTC)
        return None


def compile_windows(documents: Iterable[dict[str, Any]]) -> list[Window]:
    return [Window.of(document) for document in documents]


def is_open(documents: list[dict[str, Any]], moment: datetime) -> bool:
    """No windows: always open. Otherwise open when any window covers the moment."""
    return not documents or any(w.open_at(moment) for w in compile_windows(documents))


def next_opening(documents: list[dict[str, Any]], moment: datetime) -> datetime | None:
    openings = [o for w in compile_windows(documents) if (o := w.next_opening(moment))]
    return min(openings) if openings else None


def problems(value: Any, path: str = "changeWindows") -> list[Problem]:
    """Every problem of a list of change windows, with its path."""
    if not isinstance(value, list):
        return [Problem(path, "must be a list of windows")]
    found: list[Problem] = []
    for index, window in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(window, dict):
            found.append(Problem(where, "must be a mapping with cron, duration, timeZone"))
            continue
        for key in sorted(set(window) - {"cron", "duration", "timeZone"}):
            found.append(
                Problem(f"{where}.{key}", "unknown field; expected cron, duration, timeZone")
            )
        try:
            Cron.parse(str(window.get("cron", "")))
        except ValueError as error:
            found.append(Problem(f"{where}.cron", str(error)))
        duration = parse_duration(str(window.get("duration", "")))
        if duration is None or not timedelta(minutes=1) <= duration <= MAX_DURATION:
            found.append(
                Problem(f"{where}.duration", "must be a duration from 1m to 7d, like 90m, 2h or 1d")
            )
        try:
            ZoneInfo(str(window.get("timeZone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            found.append(
                Problem(f"{where}.timeZone", f"unknown time zone {window.get('timeZone')!r}")
            )
    return found
