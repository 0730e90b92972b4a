"""The demo's generated trend obeys what measured rollups do: a fleet (or a lane) scores
between its clusters, because it is their sum scored by the same function."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from drift.models import DailyRollup
from tests.factories import ClusterFactory, DriftPolicyFactory, LaneFactory

pytestmark = pytest.mark.django_db
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def demo_history(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import demo_history

    return demo_history


def test_the_fleet_and_a_lane_score_between_their_clusters(demo_history: Any) -> None:
    fast = LaneFactory(name="fast")
    for name in ("east", "west", "north"):
        cluster = ClusterFactory(name=name)
        if name != "north":
            cluster.lanes.add(fast)
    DriftPolicyFactory(name="shop", cluster_names=["east", "west"])

    written = demo_history.generate(days=30)

    assert written == 30 * (1 + 3 + 1 + 1)
    by_day: dict[Any, dict[str, float]] = defaultdict(dict)
    for row in DailyRollup.objects.filter(generated=True):
        by_day[row.day][row.scope_name] = row.score
    for day, scores in by_day.items():
        members = [scores["east"], scores["west"], scores["north"]]
        assert min(members) <= scores["fleet"] <= max(members), day
        assert (
            min(scores["east"], scores["west"])
            <= scores["fast"]
            <= max(scores["east"], scores["west"])
        ), day
        assert scores["shop"] == scores["fast"]  # same two clusters
