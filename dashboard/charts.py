"""Plotly figures for the dashboard, as plain dicts the template hands to Plotly.newPlot.

Every chart of the dashboard is built here and nowhere else, from values the views have
already read (DailyRollup rows for drift over time, AdmissionTally sums for the admission
webhook's decisions). Functions take plain data and return ``{"data": [...], "layout":
{...}}``, so they are easy to test and never query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from drift.engine.severity import LEVELS
from drift.models import DailyRollup

# Worst first, the order every severity legend uses; colours match static/css/app.css.
SEVERITIES = tuple(reversed(LEVELS))
SEVERITY_COLOURS = {
    "critical": "#8e1b1b",
    "high": "#c2410c",
    "medium": "#a16207",
    "low": "#1f5fbf",
    "info": "#5b6472",
}
# Distinguishable lines for per-cluster and per-lane series (Okabe-Ito, colour-blind safe).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
# The light scheme's text colour (app.css --fg). static/js/app.js swaps it, in the layout and
# in any trace drawn with it, for the current scheme's, so the charts follow dark mode.
INK = "#1c2330"
OK = "#1a7f37"  # app.css --ok
# Each colour the figures are written in, and the app.css variable that carries it in the
# current scheme: static/js/app.js repaints these, so dark mode gets its lighter severity
# colours (a dark red bar on a dark page is nearly invisible).
THEME = {
    INK: "--fg",
    OK: "--ok",
    **{colour: f"--{level}" for level, colour in SEVERITY_COLOURS.items()},
}
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}

Figure = dict[str, Any]


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 12, "color": INK},
        "margin": {"l": 48, "r": 16, "t": 40, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.15},
        "height": 300,
    }
    layout.update(extra)
    return layout


def _days(rows: Sequence[DailyRollup]) -> list[str]:
    return [row.day.isoformat() for row in rows]


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> Figure:
    return {"data": data, "layout": layout, "config": CONFIG, "theme": THEME}


def score_trend(rows: Sequence[DailyRollup], title: str = "Fleet score, last 30 days") -> Figure:
    """One scope's compliance score per day (0-100)."""
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "score",
        "x": _days(rows),
        "y": [row.score for row in rows],
        "line": {"color": PALETTE[0], "width": 2},
        "hovertemplate": "%{y:.1f}<extra></extra>",
    }
    return figure([trace], _layout(title, yaxis={"range": [0, 100.5], "title": "score"}))


def severity_bars(counts: Mapping[str, int], title: str = "Open drift by severity") -> Figure:
    """Open findings per severity, worst first, each bar in its severity's colour."""
    labels = [level.capitalize() for level in SEVERITIES]
    trace = {
        "type": "bar",
        "x": labels,
        "y": [counts.get(level, 0) for level in SEVERITIES],
        "marker": {"color": [SEVERITY_COLOURS[level] for level in SEVERITIES]},
        "text": [counts.get(level, 0) for level in SEVERITIES],
        "textposition": "auto",
        "hovertemplate": "%{x}: %{y}<extra></extra>",
    }
    return figure([trace], _layout(title, hovermode="closest", yaxis={"title": "findings"}))


def stacked_by_severity(
    groups: Mapping[str, Mapping[str, int]], title: str, axis_title: str
) -> Figure:
    """Horizontal bars per group (cluster, lane), stacked by severity, the most drift on top
    (then by name). Plotly draws the first category at the bottom, hence the reversal."""
    ranked = sorted(groups, key=lambda name: (-sum(groups[name].values()), name))
    names = ranked[::-1]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": level.capitalize(),
            "y": names,
            "x": [groups[name].get(level, 0) for name in names],
            "marker": {"color": SEVERITY_COLOURS[level]},
            "hovertemplate": f"%{{y}}: %{{x}} {level}<extra></extra>",
        }
        for level in SEVERITIES
    ]
    height = max(220, 60 + 28 * len(names))
    return figure(
        data,
        _layout(
            title,
            barmode="stack",
            hovermode="closest",
            height=height,
            margin={"l": 110, "r": 16, "t": 40, "b": 40},
            xaxis={"title": "open findings"},
            yaxis={"title": axis_title, "automargin": True},
        ),
    )


def scores_by_scope(
    rows: Iterable[DailyRollup], title: str, fleet: Sequence[DailyRollup] = ()
) -> Figure:
    """One score line per cluster or lane; the fleet, when given, as a dashed reference."""
    lines: dict[str, list[DailyRollup]] = {}
    for row in rows:
        lines.setdefault(row.scope_name or str(row.scope_id), []).append(row)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": name,
            "x": _days(series),
            "y": [row.score for row in series],
            "line": {"color": PALETTE[index % len(PALETTE)], "width": 2},
            "hovertemplate": f"{name}: %{{y:.1f}}<extra></extra>",
        }
        for index, (name, series) in enumerate(sorted(lines.items()))
    ]
    if fleet:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "fleet",
                "x": _days(fleet),
                "y": [row.score for row in fleet],
                "line": {"color": INK, "width": 2, "dash": "dash"},
                "hovertemplate": "fleet: %{y:.1f}<extra></extra>",
            }
        )
    return figure(data, _layout(title, yaxis={"range": [0, 100.5], "title": "score"}))


def opened_vs_resolved(rows: Sequence[DailyRollup], title: str) -> Figure:
    """Findings opened and resolved per day, side by side."""
    days = _days(rows)
    data = [
        {
            "type": "bar",
            "name": "opened",
            "x": days,
            "y": [row.opened for row in rows],
            "marker": {"color": SEVERITY_COLOURS["high"]},
        },
        {
            "type": "bar",
            "name": "resolved",
            "x": days,
            "y": [row.resolved for row in rows],
            "marker": {"color": OK},
        },
    ]
    return figure(data, _layout(title, barmode="group", yaxis={"title": "findings"}))


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def detection_and_repair(rows: Sequence[DailyRollup], title: str) -> Figure:
    """MTTD and MTTR per day in hours: the median as a solid line, p90 dashed."""
    days = _days(rows)

    def line(name: str, values: list[float | None], colour: str, dash: str) -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": days,
            "y": values,
            "connectgaps": False,
            "line": {"color": colour, "width": 2, "dash": dash},
            "hovertemplate": f"{name}: %{{y}} h<extra></extra>",
        }

    data = [
        line("MTTD median", [_hours(r.mttd_median) for r in rows], PALETTE[0], "solid"),
        line("MTTD p90", [_hours(r.mttd_p90) for r in rows], PALETTE[0], "dot"),
        line("MTTR median", [_hours(r.mttr_median) for r in rows], PALETTE[5], "solid"),
        line("MTTR p90", [_hours(r.mttr_p90) for r in rows], PALETTE[5], "dot"),
    ]
    return figure(data, _layout(title, yaxis={"title": "hours", "rangemode": "tozero"}))


def severity_mix(rows: Sequence[DailyRollup], title: str) -> Figure:
    """Open drift at the end of each day, stacked by severity."""
    days = _days(rows)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "stackgroup": "open",
            "name": level.capitalize(),
            "x": days,
            "y": [getattr(row, f"open_{level}") for row in rows],
            "line": {"color": SEVERITY_COLOURS[level], "width": 1},
            "fillcolor": SEVERITY_COLOURS[level],
        }
        for level in SEVERITIES
    ]
    return figure(data, _layout(title, yaxis={"title": "open findings"}))


def open_by_rule(days: Sequence[date], series: Mapping[str, Sequence[int]], title: str) -> Figure:
    """Open violations at the end of each day, one line per alignment rule."""
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": rule,
            "x": [day.isoformat() for day in days],
            "y": list(counts),
            "line": {"color": PALETTE[index % len(PALETTE)], "width": 2, "shape": "hv"},
            "hovertemplate": f"{rule}: %{{y}}<extra></extra>",
        }
        for index, (rule, counts) in enumerate(series.items())
    ]
    layout = _layout(title, yaxis={"title": "open violations", "rangemode": "tozero"})
    return figure(data, layout)


# Each outcome of the admission webhook in the colour of what it means: allowed (ok),
# warned (medium), let through by break-glass (high: a finding to review), refused.
OUTCOME_COLOURS = {
    "allow": OK,
    "warn": SEVERITY_COLOURS["medium"],
    "break-glass": SEVERITY_COLOURS["high"],
    "deny": SEVERITY_COLOURS["critical"],
}


def admission_decisions(
    times: Sequence[datetime], counts: Mapping[str, Sequence[int]], bucket: str, title: str
) -> Figure:
    """Decisions of the admission webhook per minute, hour or day, stacked by outcome."""
    moments = [timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") for moment in times]
    data = [
        {
            "type": "bar",
            "name": outcome,
            "x": moments,
            "y": list(counts.get(outcome, ())),
            "marker": {"color": colour},
            "hovertemplate": f"%{{y}} {outcome}<extra></extra>",
        }
        for outcome, colour in OUTCOME_COLOURS.items()
    ]
    layout = _layout(title, barmode="stack", yaxis={"title": f"decisions per {bucket}"})
    return figure(data, layout)
