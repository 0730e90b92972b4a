"""The demo's thirty days of trend history, generated (and marked so: never measured).

Each cluster gets its own random walk of open drift; lanes, policies and the fleet are
then the sums of their clusters and scored by the same function as real rollups
(drift.services.analytics.score_of), so the generated trend obeys what measured ones do:
the fleet's score lies between its clusters' scores, and a lane's between its members'.
"""

from __future__ import annotations

import random
import statistics
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

LEVELS = ("critical", "high", "medium", "low", "info")
OBJECTS_PER_CLUSTER = 49
SEED = 20261130


def _walks(
    cluster_ids: list[int], days: int, rng: random.Random
) -> dict[int, list[dict[str, Any]]]:
    """Per cluster, one dict per day: open counts by severity, opened, resolved, timings."""
    walks: dict[int, list[dict[str, Any]]] = {}
    for cluster_id in cluster_ids:
        open_now = {"critical": 1, "high": 4, "medium": 6, "low": 3, "info": 0}
        days_of: list[dict[str, Any]] = []
        for _ in range(days):
            for level in ("critical", "high", "medium", "low"):
                open_now[level] = max(0, open_now[level] + rng.choice((-1, 0, 0, 1)))
            days_of.append(
                {
                    **{f"open_{level}": open_now[level] for level in LEVELS},
                    "opened": rng.randint(0, 5),
                    "resolved": rng.randint(0, 5),
                    "objects_in_scope": OBJECTS_PER_CLUSTER,
                    "mttd_median": rng.uniform(2, 40),
                    "mttd_p90": rng.uniform(40, 180),
                    "mttr_median": rng.uniform(600, 7200),
                    "mttr_p90": rng.uniform(7200, 36000),
                }
            )
        walks[cluster_id] = days_of
    return walks


def _summed(members: list[dict[str, Any]]) -> dict[str, Any]:
    """A scope's day from its clusters' days: counts add up, timings take the median."""
    from drift.services.analytics.scores import penalty_of, score_of

    counts = [f"open_{level}" for level in LEVELS] + ["opened", "resolved", "objects_in_scope"]
    row: dict[str, Any] = {key: sum(m[key] for m in members) for key in counts}
    for key in ("mttd_median", "mttd_p90", "mttr_median", "mttr_p90"):
        row[key] = statistics.median(m[key] for m in members) if members else None
    penalty = penalty_of({level: row[f"open_{level}"] for level in LEVELS})
    row["score"] = score_of(penalty, row["objects_in_scope"])
    return row


def _scopes() -> list[tuple[str, int, str, list[int]]]:
    """(scope, id, name, member cluster ids) for the fleet, every cluster, lane and policy."""
    from drift.models import Cluster, DriftPolicy, Lane, RollupScope
    from drift.services import clusters as targeting

    every = list(Cluster.objects.prefetch_related("lanes"))
    scopes = [(RollupScope.FLEET, 0, "fleet", [c.pk for c in every])]
    scopes += [(RollupScope.CLUSTER, c.pk, c.name, [c.pk]) for c in every]
    for lane in Lane.objects.all():
        members = [c.pk for c in every if lane in c.lanes.all()]
        scopes.append((RollupScope.LANE, lane.pk, lane.name, members))
    for policy in DriftPolicy.objects.all():
        members = [c.pk for c in every if targeting.is_target(policy, c)]
        scopes.append((RollupScope.POLICY, policy.pk, policy.name, members))
    return scopes


def generate(days: int = 30, today: date | None = None) -> int:
    """Replace the generated rollups with ``days`` days of history; the rows written."""
    from drift.models import DailyRollup

    today = today or timezone.localdate()
    scopes = _scopes()
    walks = _walks(
        sorted({pk for *_, members in scopes for pk in members}), days, random.Random(SEED)
    )
    rows = [
        DailyRollup(
            day=today - timedelta(days=days - index),
            scope=scope,
            scope_id=scope_id,
            scope_name=name,
            generated=True,
            **_summed([walks[pk][index] for pk in members]),
        )
        for scope, scope_id, name, members in scopes
        for index in range(days)
    ]
    with transaction.atomic():
        DailyRollup.objects.filter(generated=True).delete()
        DailyRollup.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
