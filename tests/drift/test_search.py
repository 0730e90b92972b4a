"""The findings search on the suite's PostgreSQL: pg_trgm's indexes serve "contains";
without them the search matches the start of names and says so."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from drift import search
from drift.filters import FindingFilter
from drift.models import Finding
from tests.factories import FindingFactory

pytestmark = pytest.mark.django_db


def found(text: str) -> set[str]:
    return {f.name for f in FindingFilter({"q": text}, queryset=Finding.objects.all()).qs}


@pytest.fixture
def named() -> None:
    for name in ("checkout-web", "web-checkout", "cart"):
        FindingFactory(name=name, namespace="shop", kind="Deployment")
    FindingFactory(name="payments", namespace="pay", kind="Service", ticket_id="OPS-42")


def test_the_migration_gave_this_database_trigram_search() -> None:
    assert search.mode() == search.CONTAINS


def test_contains_matches_inside_names_namespaces_and_kinds(named: None) -> None:
    assert found("checkout") == {"checkout-web", "web-checkout"}
    assert found("SERVIC") == {"payments"}  # kind, whatever the case
    assert found("ops-42") == {"payments"}  # a ticket id, whole
    assert found("ops-4") == set()


def test_every_branch_of_a_search_has_an_index(named: None) -> None:
    """One branch of the OR without an index would make every search a sequential scan
    of the whole table: with sequential scans off, the plan reads only the indexes."""
    # The ids alone: the rows' last sightings (a join on the small scope table) are read
    # after the search has found them.
    query = FindingFilter({"q": "checkout"}, queryset=Finding.objects.all()).qs.order_by()
    query = query.values("pk")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan
    for index in (*search.TRIGRAM_INDEXES, "finding_ticket_upper"):
        assert index in plan


def test_without_trigrams_the_search_matches_starts_and_the_page_says_so(
    named: None, monkeypatch: pytest.MonkeyPatch, client: Any, viewer: Any
) -> None:
    monkeypatch.setattr(search, "mode", lambda: search.PREFIX)

    assert found("checkout") == {"checkout-web"}
    assert found("ops-42") == {"payments"}

    client.force_login(viewer)
    text = client.get(reverse("findings"), {"q": "checkout"}).content.decode()
    assert "Matches the start of a name, namespace or kind" in text
