"""The alignment rules: pure functions over one evaluation's objects (no Django, no I/O).

`evaluate(objects, known)` runs every registered rule; each module registers its rules
on import (alignment.rules.base.rule).
"""

from __future__ import annotations

# Importing a rule module registers its rules.
from alignment.rules import lanes as _lane_rules  # noqa: F401
from alignment.rules import references as _reference_rules  # noqa: F401
from alignment.rules.base import (
    RULES,
    Evidence,
    Known,
    LaneSpec,
    Objects,
    Reach,
    Rule,
    Violation,
    everything,
)


def evaluate(
    objects: Objects,
    known: Known = everything,
    lanes: tuple[LaneSpec, ...] = (),
    default_lane: LaneSpec | None = None,
    every_lane: tuple[LaneSpec, ...] = (),
) -> list[Violation]:
    """Every violation of every rule, ordered by rule, then object. ``known`` says which
    kinds the evaluation read completely; only namespaces it holds objects of count.
    ``lanes`` own the namespaces (the cluster's); ``every_lane`` owns Secrets, accounts
    and identities too (all lanes; by default the same)."""
    reach = Reach.of(objects, known, lanes, default_lane, every_lane)
    found = [v for rule in RULES.values() for v in rule.check(objects, reach)]
    return sorted(found, key=lambda v: (v.rule, v.key, v.evidence[0].path if v.evidence else ""))


__all__ = [
    "RULES",
    "Evidence",
    "Known",
    "LaneSpec",
    "Objects",
    "Reach",
    "Rule",
    "Violation",
    "evaluate",
    "everything",
]
