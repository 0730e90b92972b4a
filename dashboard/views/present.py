"""Small formatting helpers: what the dashboard shows for durations, counts and values.

Templates cannot compute, and the project keeps no custom template tags, so views prepare
these strings.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import yaml


def duration(seconds: float | timedelta | None) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h'; an em dash when unknown."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    total = int(round(abs(seconds)))
    if total < 60:
        return f"{total} s"
    minutes, _ = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def until(moment: datetime | None, now: datetime) -> str:
    """'in 3 h 5 min' or '12 min ago'."""
    if moment is None:
        return "—"
    delta = (moment - now).total_seconds()
    return f"in {duration(delta)}" if delta >= 0 else f"{duration(delta)} ago"


def value_text(value: Any) -> str:
    """A Kubernetes value as people read manifests: YAML blocks for mappings and lists,
    JSON for scalars (so "1" and 1, or "true" and true, stay distinguishable)."""
    if isinstance(value, dict | list):
        if not value:
            return json.dumps(value)
        return yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")
    return json.dumps(value, ensure_ascii=False)


def object_name(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


SEVERITIES = ("critical", "high", "medium", "low", "info")


def severity_list(counts: dict[str, int]) -> list[dict[str, Any]]:
    """[{level, label, n}] worst first, for templates (which cannot index a dict by a
    variable)."""
    return [
        {"level": level, "label": level.capitalize(), "n": counts.get(level, 0)}
        for level in SEVERITIES
    ]
