"""The alignment rules: pure functions over one evaluation's objects (no Django, no I/O).

`evaluate(objects, known)` runs every registered rule; each module registers its rules
on import (alignment.rules.base.rule).
"""

from __future__ import annotations

from alignment.rules import references  # noqa: F401  (registers its rules)
from alignment.rules.base import (
    RULES,
    Evidence,
    Known,
    Objects,
    Reach,
    Rule,
    Violation,
    everything,
)


def evaluate(objects: Objects, known: Known = everything) -> list[Violation]:
    """Every violation of every rule, ordered by rule, then object. ``known`` says which
    kinds the evaluation read completely; only namespaces it holds objects of count."""
    reach = Reach.of(objects, known)
    found = [v for rule in RULES.values() for v in rule.check(objects, reach)]
    return sorted(found, key=lambda v: (v.rule, v.key, v.evidence[0].path if v.evidence else ""))


__all__ = [
    "RULES",
    "Evidence",
    "Known",
    "Objects",
    "Reach",
    "Rule",
    "Violation",
    "evaluate",
    "everything",
]
