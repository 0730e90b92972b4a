from datetime import UTC, datetime

import pytest

from drift.engine.windows import Cron, is_open, next_opening, parse_duration, problems

WEEKDAY_NIGHTS = [{"cron": "0 22 * * 1-5", "duration": "2h", "timeZone": "Europe/Berlin"}]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 30, 21, 0, tzinfo=UTC), True),  # Monday 22:00 Berlin: opens
        (datetime(2026, 11, 30, 22, 59, tzinfo=UTC), True),  # 23:59 Berlin: still open
        (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), False),  # 00:00 Berlin: closed
        (datetime(2026, 11, 30, 20, 59, tzinfo=UTC), False),  # 21:59 Berlin: not yet
        (datetime(2026, 11, 29, 21, 30, tzinfo=UTC), False),  # Sunday
    ],
)
def test_a_window_is_open_for_its_duration_in_its_time_zone(moment, expected):
    assert is_open(WEEKDAY_NIGHTS, moment) is expected


def test_no_windows_means_always_open():
    assert is_open([], datetime(2026, 1, 1, tzinfo=UTC))


def test_the_next_opening_is_found():
    assert next_opening(WEEKDAY_NIGHTS, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, 21, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "minute", "hour", "weekday"),
    [
        ("*/15 9-17 * * *", 45, 12, 3),
        ("0,30 0 1 * 7", 30, 0, 0),  # Sunday written as 7
    ],
)
def test_cron_fields(text, minute, hour, weekday):
    cron = Cron.parse(text)
    assert minute in cron.minutes and hour in cron.hours and weekday in cron.weekdays


def test_cron_day_fields_follow_cron_or_rule():
    # "the 1st of the month, or any Friday"
    cron = Cron.parse("0 12 1 * 5")
    assert cron.matches(datetime(2026, 12, 1, 12, 0))  # a Tuesday, the 1st
    assert cron.matches(datetime(2026, 12, 4, 12, 0))  # a Friday
    assert not cron.matches(datetime(2026, 12, 2, 12, 0))


def test_durations():
    assert parse_duration("1d12h").total_seconds() == 36 * 3600
    assert parse_duration("90m").total_seconds() == 5400
    assert parse_duration("soon") is None


def test_every_problem_is_named_with_its_path():
    found = problems(
        [{"cron": "0 25 * * *", "duration": "9d", "timeZone": "Mars/Base", "colour": "red"}, "x"],
        "spec.remediation.changeWindows",
    )

    assert [str(p) for p in found] == [
        "spec.remediation.changeWindows[0].colour: unknown field; expected cron, duration, "
        "timeZone",
        "spec.remediation.changeWindows[0].cron: hour '25': 25 is outside 0-23",
        "spec.remediation.changeWindows[0].duration: must be a duration from 1m to 7d, like "
        "90m, 2h or 1d",
        "spec.remediation.changeWindows[0].timeZone: unknown time zone 'Mars/Base'",
        "spec.remediation.changeWindows[1]: must be a mapping with cron, duration, timeZone",
    ]
