"""Free-text search of findings: what a person types in the findings list's search box
(and the API's `q`), matched against the name, namespace and kind, or a ticket id.

On PostgreSQL with the pg_trgm extension (migration 0008 installs it where the database
allows), "contains" is served by trigram indexes: a search at a million findings reads a
few index pages instead of every row. Where the extension cannot be installed, a search
that still uses an index matches the *start* of a name, namespace or kind, and the page
says so. SQLite (the embedded demo) scans its few rows either way and matches anywhere.
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import Q

# The trigram indexes migration 0008 creates; their presence decides the mode.
TRIGRAM_INDEXES = ("finding_name_trgm", "finding_namespace_trgm", "finding_kind_trgm")
CONTAINS = "contains"
PREFIX = "prefix"
SAYS = {
    CONTAINS: "Matches any part of a name, namespace or kind, or a whole ticket id.",
    PREFIX: "Matches the start of a name, namespace or kind, or a whole ticket id "
    "(this database has no pg_trgm for matching inside words).",
}


@cache
def mode() -> str:
    """How this database searches; read once per process (a migration changes it)."""
    if connection.vendor != "postgresql":
        return CONTAINS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = ANY(%s)", [list(TRIGRAM_INDEXES)]
        )
        (found,) = cursor.fetchone()
    return CONTAINS if found == len(TRIGRAM_INDEXES) else PREFIX


def matching(text: str) -> Q:
    """The condition for findings matching ``text`` (already stripped, not empty). Each
    branch has an index (UPPER(column), as Django's case-insensitive lookups compare)."""
    lookup = "icontains" if mode() == CONTAINS else "istartswith"
    return (
        Q(**{f"name__{lookup}": text})
        | Q(**{f"namespace__{lookup}": text})
        | Q(**{f"kind__{lookup}": text})
        | Q(ticket_id__iexact=text)
    )
