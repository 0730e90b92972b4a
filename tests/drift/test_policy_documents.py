"""A DriftPolicy document's remediation block, read field by field: what `drift apply`
makes of each setting, its defaults, and every problem with its path."""

from __future__ import annotations

from typing import Any

import pytest

from drift import declarative

pytestmark = pytest.mark.django_db

API = "driftcontrol.io/v1alpha1"


def policy_values(remediation: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": "deploy", "clusters": {"names": ["prod"]}}
    if remediation is not None:
        spec["remediation"] = remediation
    planned = declarative.plan(
        [
            {
                "apiVersion": API,
                "kind": "GitSource",
                "metadata": {"name": "deploy"},
                "spec": {"url": "/srv/git/deploy.git"},
            },
            {"apiVersion": API, "kind": "DriftPolicy", "metadata": {"name": "shop"}, "spec": spec},
        ]
    )
    return next(p.values for p in planned if p.kind == "DriftPolicy")


def problems_of(remediation: Any) -> list[str]:
    with pytest.raises(declarative.InvalidDocuments) as raised:
        policy_values(remediation)
    return sorted(str(p) for p in raised.value.problems)


def test_a_policy_without_remediation_gets_the_defaults() -> None:
    values = policy_values()

    assert values["strategy"] == "sync"
    assert values["auto_remediate_up_to"] == "none"
    assert values["approvals"] == {"critical": 2, "high": 1, "medium": 1, "low": 1, "info": 0}
    assert (values["prune"], values["rollback_on_failed_verification"]) == (False, True)
    assert values["change_windows"] == []
    assert values["request_expiry_seconds"] == 24 * 3600
    assert (values["flap_count"], values["flap_window_seconds"]) == (3, 3600)


def test_it_reads_every_remediation_setting() -> None:
    window = {"cron": "0 2 * * 1-5", "duration": "2h", "timeZone": "Europe/Paris"}

    values = policy_values(
        {
            "strategy": "alert",
            "autoRemediateUpTo": "low",
            "approvals": {"high": 2},
            "prune": True,
            "changeWindows": [window],
            "expiry": "1h30m",
            "rollbackOnFailedVerification": False,
            "flapping": {"count": 5, "window": "10m"},
        }
    )

    assert (values["strategy"], values["auto_remediate_up_to"]) == ("alert", "low")
    assert values["approvals"] == {"critical": 2, "high": 2, "medium": 1, "low": 1, "info": 0}
    assert (values["prune"], values["rollback_on_failed_verification"]) == (True, False)
    assert values["change_windows"] == [window]
    assert values["request_expiry_seconds"] == 5400
    assert (values["flap_count"], values["flap_window_seconds"]) == (5, 600)


def test_every_problem_of_the_remediation_block_is_named_with_its_path() -> None:
    problems = problems_of(
        {
            "autoRemediateUpTo": "everything",
            "prune": "yes",
            "changeWindows": {"cron": "0 2 * * *"},
            "expiry": "30s",
            "rollbackOnFailedVerification": 1,
            "flapping": {"count": 1, "window": "1m"},
        }
    )

    where = "documents[1].spec.remediation"
    assert problems == sorted(
        [
            f"{where}.autoRemediateUpTo: must be one of none, info, low, medium, high, critical",
            f"{where}.prune: must be true or false",
            f"{where}.changeWindows: must be a list of windows",
            f"{where}.expiry: must be a duration of at least 60s, like 90s, 2m or 1h",
            f"{where}.rollbackOnFailedVerification: must be true or false",
            f"{where}.flapping.count: must be a whole number, 2 or more",
        ]
    )


@pytest.mark.parametrize(
    ("flapping", "expected"),
    [
        ("often", ["flapping: must be a mapping with count and window"]),
        ({"count": 3, "every": "1h"}, ["flapping: must be a mapping with count and window"]),
        ({"count": True}, ["flapping.count: must be a whole number, 2 or more"]),
        (
            {"window": "59s"},
            ["flapping.window: must be a duration of at least 60s, like 90s, 2m or 1h"],
        ),
    ],
)
def test_a_flapping_guard_needs_a_count_of_two_or_more_and_a_window(
    flapping: Any, expected: list[str]
) -> None:
    assert problems_of({"flapping": flapping}) == [
        f"documents[1].spec.remediation.{problem}" for problem in expected
    ]


def test_remediation_that_is_not_a_mapping_is_one_problem() -> None:
    assert problems_of(["sync"]) == ["documents[1].spec.remediation: must be a dict"]
