"""Compliance score, MTTD and MTTR, and the daily rollups that charts read.

**The score** of a scope (a cluster, a lane, a policy, the fleet) is

    score = 100 x (1 - sum of the weights of its open findings / (10 x objects in scope))

floored at 0, with weights critical 10, high 5, medium 2, low 1, info 0. A critical
finding on one object out of ten costs 10 points; a low one, 1. Objects in scope are what
the latest complete scans of the scope's (policy, cluster) pairs compared. Open and
acknowledged findings count; suppressed ones (accepted until their expiry) do not.

**MTTD** is detection time minus the time the change was made (`drift_started_at`, from
managedFields, when known); **MTTR** is resolution time minus detection time. Both are
given as median and 90th percentile over a period.

Callers use what this package exports (`analytics.score(...)`); the submodules are
`scopes`, `scores`, `timings` (MTTD, MTTR and their stored recent figures), `rollups`
and `activity`.
"""

from drift.services.analytics.activity import last_scan_of, most_recurrent
from drift.services.analytics.rollups import backfill, first_finding_day, rollup, series
from drift.services.analytics.scopes import objects_in_scope
from drift.services.analytics.scores import (
    MAX_WEIGHT,
    WEIGHTS,
    Score,
    penalty_of,
    score,
    score_of,
    scores,
)
from drift.services.analytics.timings import (
    RECENT_DAYS,
    SUMMARY_MAX_AGE,
    Timing,
    mttd,
    mttr,
    recent_timings,
    refresh_recent_timings,
)

__all__ = [
    "MAX_WEIGHT",
    "RECENT_DAYS",
    "SUMMARY_MAX_AGE",
    "WEIGHTS",
    "Score",
    "Timing",
    "backfill",
    "first_finding_day",
    "last_scan_of",
    "most_recurrent",
    "mttd",
    "mttr",
    "objects_in_scope",
    "penalty_of",
    "recent_timings",
    "refresh_recent_timings",
    "score_of",
    "scores",
    "rollup",
    "score",
    "series",
]
