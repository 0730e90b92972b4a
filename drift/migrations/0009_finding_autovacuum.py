"""Vacuum the findings table sooner than PostgreSQL's defaults do.

Every scan still rewrites the open findings it sees again (their last_seen), so at fleet
scale the table collects dead row versions without pause: 200 clusters on 2-minute
intervals rewrite about 25,000 rows a minute. PostgreSQL's default vacuums a table once
20% of it is dead, 200,000 rows at a million findings: minutes of bloat during which the
open findings' pages are scattered and never all-visible, and the overview's tally of open
findings read 34,000 heap pages (bench/steady_state.py: overview 132 ms median under
writes with the defaults, 74 ms with these settings; findings list 53 ms and 50 ms).
Vacuuming at 2% (plus 1,000 rows, so small tables are not vacuumed for nothing) keeps the
bloat to seconds of writes. Analyze follows the same rate, so the planner's counts of
open findings stay current. SQLite has no such settings.
"""

from django.db import migrations

SETTINGS = (
    "autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.02"
)
NAMES = (
    "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor"
)


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE drift_finding SET ({SETTINGS})")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE drift_finding RESET ({NAMES})")


class Migration(migrations.Migration):
    dependencies = [("drift", "0008_finding_search_indexes")]

    operations = [migrations.RunPython(tune, untune, elidable=False)]
