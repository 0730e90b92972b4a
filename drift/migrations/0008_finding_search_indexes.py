"""Indexes for the findings search (drift/search.py).

Django's case-insensitive lookups compare UPPER(column), so the indexes are on those
expressions. With pg_trgm, GIN trigram indexes serve "contains" (LIKE '%text%'); without
it (the extension needs a privilege the database user may lack), pattern btree indexes
serve "starts with". The ticket id, matched whole, gets a plain btree either way: one
branch of the OR without an index would make the whole search a sequential scan.

Created with RunPython, not Meta.indexes: which kind exists depends on the database, so
the migration state does not track them. SQLite needs none of this.
"""

from django.db import migrations

COLUMNS = ("name", "namespace", "kind")


def _has_trigrams(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    if cursor.fetchone() is None:
        return False
    try:
        cursor.execute("SAVEPOINT trgm")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("RELEASE SAVEPOINT trgm")
    except Exception:
        cursor.execute("ROLLBACK TO SAVEPOINT trgm")
        return False
    return True


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        trigrams = _has_trigrams(cursor)
        for column in COLUMNS:
            if trigrams:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS finding_{column}_trgm ON drift_finding "
                    f"USING gin (UPPER({column}) gin_trgm_ops)"
                )
            else:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS finding_{column}_prefix ON drift_finding "
                    f"(UPPER({column}) text_pattern_ops)"
                )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS finding_ticket_upper ON drift_finding (UPPER(ticket_id))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX IF EXISTS finding_{column}_trgm")
            cursor.execute(f"DROP INDEX IF EXISTS finding_{column}_prefix")
        cursor.execute("DROP INDEX IF EXISTS finding_ticket_upper")


class Migration(migrations.Migration):
    dependencies = [("drift", "0007_finding_updated_at")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
