"""The findings table's PostgreSQL settings (migration 0009): scans keep rewriting open
findings, so the table is vacuumed at 2% dead rows, not PostgreSQL's 20%."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_the_findings_table_is_vacuumed_and_analyzed_early() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'drift_finding'")
        (options,) = cursor.fetchone()

    assert set(options) == {
        "autovacuum_vacuum_scale_factor=0.02",
        "autovacuum_vacuum_threshold=1000",
        "autovacuum_analyze_scale_factor=0.02",
    }
