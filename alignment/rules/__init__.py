"""The alignment rules: pure functions over one evaluation's objects (no Django, no I/O).

`evaluate(objects, known)` runs every registered rule; each module registers its rules
on import (alignment.rules.base.rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

# Importing a rule module registers its rules.
from alignment.rules import admission as _admission_rules  # noqa: F401
from alignment.rules import deployers as _deployer_rules  # noqa: F401
from alignment.rules import lanes as _lane_rules  # noqa: F401
from alignment.rules import pods
from alignment.rules import references as _reference_rules  # noqa: F401
from alignment.rules import requires as _requirement_rules  # noqa: F401
from alignment.rules import supply as _supply_rules  # noqa: F401
from alignment.rules import sync as _sync_rules  # noqa: F401
from alignment.rules.base import (
    NOTHING_MORE,
    RULES,
    Circumstances,
    Evidence,
    GitHead,
    Known,
    LaneSpec,
    Objects,
    Reach,
    Rule,
    Violation,
    Write,
    everything,
)
from drift.engine.normalize import ObjectKey


def evaluate(
    objects: Objects,
    known: Known = everything,
    lanes: tuple[LaneSpec, ...] = (),
    default_lane: LaneSpec | None = None,
    every_lane: tuple[LaneSpec, ...] = (),
    circumstances: Circumstances = NOTHING_MORE,
    only: Callable[[Rule], bool] = lambda rule: True,
    judge: frozenset[ObjectKey] | None = None,
) -> list[Violation]:
    """Every violation of every rule, ordered by rule, then object. ``known`` says which
    kinds the evaluation read completely; only namespaces it holds objects of count.
    ``lanes`` own the namespaces (the cluster's); ``every_lane`` owns Secrets, accounts
    and identities too (all lanes; by default the same). ``only`` picks the rules to run
    (the watcher runs the local ones); ``judge`` the objects to report on (the others are
    there to be referred to)."""
    reach = Reach.of(objects, known, lanes, default_lane, every_lane, circumstances)
    if judge is not None:
        reach = replace(reach, judge=judge)
    with pods.walked_once():
        found = [v for rule in RULES.values() if only(rule) for v in rule.check(objects, reach)]
    return sorted(found, key=lambda v: (v.rule, v.key, v.evidence[0].path if v.evidence else ""))


__all__ = [
    "NOTHING_MORE",
    "RULES",
    "Circumstances",
    "Evidence",
    "GitHead",
    "Known",
    "LaneSpec",
    "Objects",
    "Reach",
    "Rule",
    "Violation",
    "Write",
    "evaluate",
    "everything",
]
