"""The alignment rules: pure functions over one evaluation's objects (no Django, no I/O).

`evaluate(objects, known)` runs every registered rule; each module registers its rules
on import (alignment.rules.base.rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
        return violations(objects, reach, [rule for rule in RULES.values() if only(rule)])


def violations(objects: Objects, reach: Reach, chosen: Iterable[Rule]) -> list[Violation]:
    """The ``chosen`` rules' violations, ordered as `evaluate` orders them: for a caller
    that prepares the reach and picks the rules once, then judges object after object
    with them (the admission webhook), inside a pods.walked_once() of its own."""
    found = [v for rule in chosen for v in rule.check(objects, reach)]
    return sorted(found, key=_order)


def _order(violation: Violation) -> tuple[str, ObjectKey, str]:
    evidence = violation.evidence
    return (violation.rule, violation.key, evidence[0].path if evidence else "")


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
    "violations",
]
