"""A lane's admission terms (drift.engine.admission_terms): every mistake named by its path."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from drift.engine.admission_terms import mode, problems


def said(value: Any) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in problems(value, "spec.admission")]


def test_what_a_user_writes_is_accepted() -> None:
    assert said({"mode": "deny", "breakGlassGroups": ["sre-oncall", "oidc:platform"]}) == []
    assert said({"mode": "warn"}) == []
    assert said({}) == []


@pytest.mark.parametrize(
    ("terms", "path", "words"),
    [
        (["deny"], "spec.admission", "must be a mapping"),
        ({"mode": "enforce"}, "spec.admission.mode", "one of off, warn, deny"),
        ({"mode": True}, "spec.admission.mode", "one of off, warn, deny"),
        ({"moed": "deny"}, "spec.admission.moed", "unknown key; expected one of mode"),
        ({"breakGlassGroups": "sre-oncall"}, "spec.admission.breakGlassGroups", "a list"),
        ({"breakGlassGroups": [""]}, "spec.admission.breakGlassGroups[0]", "non-empty"),
        ({"breakGlassGroups": [7]}, "spec.admission.breakGlassGroups[0]", "non-empty"),
        (
            {"breakGlassGroups": ["sre-oncall", "sre-oncall"]},
            "spec.admission.breakGlassGroups[1]",
            "sre-oncall is listed twice",
        ),
        (
            {"breakGlassGroups": ["sre-oncall "]},
            "spec.admission.breakGlassGroups[0]",
            "spaces around it",
        ),
    ],
)
def test_each_mistake_is_named_where_it_is(terms: Any, path: str, words: str) -> None:
    found = said(terms)

    assert [p for p, _ in found] == [path], found
    assert words in found[0][1]


def test_a_lane_that_says_nothing_prevents_nothing() -> None:
    assert mode({}) == "off"
    assert mode({"mode": "warn"}) == "warn"
    assert mode(MappingProxyType({"mode": "deny"})) == "deny"  # as alignment's LaneSpec holds it
    assert mode({"mode": "nonsense"}) == "off"
    assert mode(None) == "off"
