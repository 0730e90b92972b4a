"""dashboard.charts: plain functions from rows to Plotly figures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from dashboard import charts
from drift.models import DailyRollup


def row(day: int, **fields: object) -> DailyRollup:
    return DailyRollup(day=date(2026, 11, day), scope="fleet", scope_name="fleet", **fields)


def test_severity_bars_are_worst_first_in_their_colours() -> None:
    figure = charts.severity_bars({"low": 3, "critical": 1})

    [trace] = figure["data"]
    assert trace["x"] == ["Critical", "High", "Medium", "Low", "Info"]
    assert trace["y"] == [1, 0, 0, 3, 0]
    assert trace["marker"]["color"][0] == charts.SEVERITY_COLOURS["critical"]


def test_groups_stack_by_severity_with_the_most_drift_on_top() -> None:
    figure = charts.stacked_by_severity(
        {"east": {"high": 5}, "west": {"low": 1}}, "Open drift by cluster", "cluster"
    )

    assert figure["data"][0]["y"] == ["west", "east"]  # plotly draws the last on top
    assert figure["layout"]["barmode"] == "stack"
    assert [trace["name"] for trace in figure["data"]] == [
        "Critical",
        "High",
        "Medium",
        "Low",
        "Info",
    ]


def test_the_score_trend_plots_each_day() -> None:
    figure = charts.score_trend([row(1, score=80.0), row(2, score=82.5)])

    assert figure["data"][0]["x"] == ["2026-11-01", "2026-11-02"]
    assert figure["data"][0]["y"] == [80.0, 82.5]
    assert figure["layout"]["yaxis"]["range"] == [0, 100.5]


def test_times_are_shown_in_hours_with_gaps_for_days_without_any() -> None:
    figure = charts.detection_and_repair(
        [row(1, mttd_median=1800.0), row(2, mttd_median=None)], "MTTD"
    )

    assert figure["data"][0]["y"] == [0.5, None]
    assert figure["data"][0]["connectgaps"] is False


def test_scores_by_scope_draw_one_line_each_and_the_fleet_dashed() -> None:
    east = DailyRollup(day=date(2026, 11, 1), scope="cluster", scope_id=1, scope_name="east")
    figure = charts.scores_by_scope([east], "Scores", fleet=[row(1)])

    assert [t["name"] for t in figure["data"]] == ["east", "fleet"]
    assert figure["data"][1]["line"]["dash"] == "dash"


def test_every_figure_is_plain_json() -> None:
    rows = [row(1, opened=2, resolved=1, open_high=3, score=90.0)]
    for figure in (
        charts.score_trend(rows),
        charts.severity_bars({}),
        charts.opened_vs_resolved(rows, "flow"),
        charts.severity_mix(rows, "mix"),
        charts.detection_and_repair(rows, "timing"),
    ):
        assert json.loads(json.dumps(figure)) == figure
        assert figure["config"]["displaylogo"] is False


def test_admission_decisions_stack_each_outcome_in_its_colour_in_local_time(settings) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    hours = [datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 11, 30, 10, tzinfo=UTC)]
    counts = {"allow": [40, 7], "warn": [2, 0], "deny": [3, 1], "break-glass": [0, 1]}

    figure = charts.admission_decisions(hours, counts, "hour", "Decisions per hour")

    assert figure["layout"]["barmode"] == "stack"
    assert [t["name"] for t in figure["data"]] == ["allow", "warn", "break-glass", "deny"]
    assert figure["data"][0]["x"] == ["2026-11-30 10:00", "2026-11-30 11:00"]
    assert figure["data"][3]["y"] == [3, 1]
    assert figure["data"][3]["marker"]["color"] == charts.SEVERITY_COLOURS["critical"]
    assert figure["layout"]["yaxis"]["title"] == "decisions per hour"
    json.dumps(figure)
