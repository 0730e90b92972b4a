"""A policy's `syncGracePeriod` (how long live objects may run an older revision than
Git's head before sync.lagging reports them): read as a duration, 10m by default, refused
with the document's own path, and exported back (tests/api/test_policy_sync_grace.py: the
same through the API)."""

from __future__ import annotations

from typing import Any

import pytest

from drift import declarative
from drift.declarative import InvalidDocuments, export
from drift.models import DriftPolicy
from tests.factories import GitSourceFactory

pytestmark = pytest.mark.django_db

ACTOR = "cli:tester"


def policy_document(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": declarative.API_VERSION,
        "kind": "DriftPolicy",
        "metadata": {"name": "shop"},
        "spec": {"source": "shop", "clusters": {"names": ["east"]}, **spec},
    }


@pytest.fixture(autouse=True)
def _source(db: None) -> None:
    GitSourceFactory(name="shop")


def test_a_policy_that_says_nothing_allows_ten_minutes() -> None:
    declarative.apply([policy_document()], ACTOR)

    policy = DriftPolicy.objects.get(name="shop")
    assert policy.sync_grace_seconds == 600
    assert export.policy(policy)["spec"]["syncGracePeriod"] == "600s"


@pytest.mark.parametrize(("given", "seconds"), [("30m", 1800), ("1h30m", 5400), (90, 90)])
def test_it_reads_the_grace_as_a_duration_and_exports_it_back(given: Any, seconds: int) -> None:
    declarative.apply([policy_document(syncGracePeriod=given)], ACTOR)

    policy = DriftPolicy.objects.get(name="shop")
    assert policy.sync_grace_seconds == seconds
    exported = export.policy(policy)
    assert exported["spec"]["syncGracePeriod"] == f"{seconds}s"
    assert declarative.apply([exported], ACTOR)[0].action == "unchanged"


@pytest.mark.parametrize("given", ["soon", "10", "30s", 59, True, "1.5h", ""])
def test_it_refuses_a_grace_under_a_minute_or_not_a_duration(given: Any) -> None:
    with pytest.raises(InvalidDocuments) as refused:
        declarative.apply([policy_document(syncGracePeriod=given)], ACTOR)

    assert [str(p) for p in refused.value.problems] == [
        "documents[0].spec.syncGracePeriod: must be a duration of at least 60s, like 90s, 2m or 1h"
    ]
    assert not DriftPolicy.objects.exists()
