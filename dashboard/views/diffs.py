"""Side-by-side diffs for people: what Git declares next to what the cluster runs, line by
line, with the lines that differ marked. Used for a finding's drifted paths and for the
changes a remediation plan makes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime

from dashboard.views.present import value_text
from drift.models import Finding, FindingType

ABSENT = object()  # the value is not there at all (a missing field or object)

# How each diff operation reads in the UI (drift.engine.diff's CHANGED, MISSING, ...).
OPERATIONS = {
    "changed": "changed live",
    "missing": "missing live",
    "removed": "removed from Git, still live",
    "undeclared": "added live, not in Git",
}


@dataclass
class Cell:
    text: str
    mark: str = ""  # "", "del", "add" or "gap" (no line on this side)


@dataclass
class Row:
    left: Cell
    right: Cell


def _lines(value: Any) -> list[str]:
    return [] if value is ABSENT else value_text(value).splitlines()


def side_by_side(left: Any, right: Any) -> list[Row]:
    """Rows of (left line, right line): equal lines unmarked, differing ones marked."""
    a, b = _lines(left), _lines(right)
    rows: list[Row] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [Row(Cell(x), Cell(y)) for x, y in zip(a[i1:i2], b[j1:j2], strict=True)]
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for index in range(max(len(olds), len(news))):
            old = Cell(olds[index], "del") if index < len(olds) else Cell("", "gap")
            new = Cell(news[index], "add") if index < len(news) else Cell("", "gap")
            rows.append(Row(old, new))
    return rows


@dataclass
class FieldDiff:
    path: str
    operation: str
    severity: str
    rows: list[Row]
    desired_absent: bool
    live_absent: bool
    managers: list[dict[str, Any]] = field(default_factory=list)
    inferred: bool = False
    missing_items: list[str] = field(default_factory=list)


def _field(drift: dict[str, Any]) -> FieldDiff:
    op = str(drift.get("op", "changed"))
    # The engine stores None for "not there"; which side is absent follows from the op.
    desired = ABSENT if op in ("removed", "undeclared") else drift.get("desired")
    live = ABSENT if op == "missing" else drift.get("live")
    return FieldDiff(
        path=str(drift.get("path", "")),
        operation=OPERATIONS.get(op, op),
        severity=str(drift.get("severity", "")),
        rows=side_by_side(desired, live),
        desired_absent=desired is ABSENT,
        live_absent=live is ABSENT,
        # managedFields times are RFC 3339 text: parsed, so the page shows them like any moment.
        managers=[
            {**m, "time": parse_datetime(m["time"]) if m.get("time") else None}
            for m in drift.get("managers") or []
        ],
        inferred=bool(drift.get("inferred")),
        missing_items=[value_text(item) for item in drift.get("missingItems") or []],
    )


def of_finding(finding: Finding) -> list[FieldDiff]:
    """The finding's drift as side-by-side blocks: one per drifted path, or the whole
    object for a missing (only in Git) or unmanaged (only live) object."""
    diff = finding.diff or {}
    if finding.type == FindingType.MISSING:
        return [
            FieldDiff(
                "(whole object)",
                "in Git, missing from the cluster",
                finding.severity,
                side_by_side(diff.get("desired", {}), ABSENT),
                desired_absent=False,
                live_absent=True,
            )
        ]
    if finding.type == FindingType.UNMANAGED:
        return [
            FieldDiff(
                "(whole object)",
                "live, not declared in Git",
                finding.severity,
                side_by_side(ABSENT, diff.get("live", {})),
                desired_absent=True,
                live_absent=False,
            )
        ]
    return [_field(drift) for drift in diff.get("fields") or []]


@dataclass
class PlannedChange:
    path: str
    rows: list[Row]


# A plan step creating a whole object lists every path; a page shows the first ones.
CHANGES_SHOWN = 40


def of_changes(changes: list[dict[str, Any]], limit: int = CHANGES_SHOWN) -> list[PlannedChange]:
    """A plan step's changes (live before, planned after), the first ``limit`` of them."""
    shown = []
    for change in changes[:limit]:
        live = change["live"] if "live" in change and change["live"] is not None else ABSENT
        planned = (
            change["planned"] if "planned" in change and change["planned"] is not None else ABSENT
        )
        shown.append(PlannedChange(str(change.get("path", "")), side_by_side(live, planned)))
    return shown
