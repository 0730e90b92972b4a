"""Benchmark of the dashboard at fleet scale (issue: web dashboard).

Fills two PostgreSQL databases, one with 1,000,000 findings over 200 clusters and 90 days
of rollups, one with 1,000 findings, and measures the median server time (request in,
response rendered, in process) of the overview, the findings list (first page and a
filtered page) and the trends page, side by side. Targets: each ratio 1.5 or less, and
every page under 300 ms at 1,000,000 findings.

Run: .venv/bin/python bench/dashboard.py [--runs 15]
(filling the large database takes a few minutes the first time; it is kept.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Filters chosen to fill a page of 50 at both sizes, so that both sides render the same
# amount: a page with 2 rows against one with 50 would measure templates, not queries.
PAGES = {
    "overview": ("home", ""),
    "findings, first page": ("findings", ""),
    "findings, filtered": ("findings", "?severity=high&status=resolved&sort=-last_seen"),
    "findings, one cluster": ("findings", "?cluster=cluster-017&status=resolved"),
    "findings, search": ("findings", "?q=app-42"),
    "trends, 90 days": ("trends", "?days=90"),
}
SIZES = {
    "1,000": (1_000, "driftcontrol_bench_small"),
    "1,000,000": (1_000_000, "driftcontrol_bench_large"),
}


def measure(database: str, findings: int, runs: int) -> dict[str, tuple[float, float, int]]:
    """Run in a child process per database: Django binds to one database at start."""
    child = subprocess.run(
        [sys.executable, __file__, "--child", database, str(findings), str(runs)],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            # Production settings: DEBUG would record every query and slow pages down.
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 50,
            "STATIC_MANIFEST": "0",
            "FIELD_ENCRYPTION_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=",
            "ALLOWED_HOSTS": "testserver",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    results = {}
    for line in child.stdout.splitlines():
        if "\t" in line:
            name, median, worst, rows = line.split("\t")
            results[name] = (float(median), float(worst), int(rows))
        else:
            print(line)
    return results


def child(database: str, findings: int, runs: int) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.common import setup_django

    setup_django(database)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from bench.fill import fill
    from driftcontrol.permissions import set_role

    if fill(findings):
        print(
            f"{findings:,}: filled now, ANALYZE after the fill, no VACUUM, no writes while measured"
        )
    else:
        print(
            f"{findings:,}: kept from an earlier run, as the server's autovacuum left it (delete "
            "the database for a fresh fill); no writes while measured"
        )
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        print(f"{findings:,}: the server's autovacuum is {cursor.fetchone()[0]}")
    user, _ = get_user_model().objects.get_or_create(username="bench")
    set_role(user, "admin")
    client = Client()
    client.force_login(user)
    for name, (route, query) in PAGES.items():
        url = reverse(route) + query
        client.get(url)  # warm: first query plans, template cache
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        rows = response.content.count(b'<input type="checkbox" name="finding"')
        print(f"{name}\t{statistics.median(times):.1f}\t{max(times):.1f}\t{rows}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--child", nargs=3)
    options = parser.parse_args()
    if options.child:
        database, findings, runs = options.child
        child(database, int(findings), int(runs))
        return
    results = {label: measure(db, n, options.runs) for label, (n, db) in SIZES.items()}
    small, large = results["1,000"], results["1,000,000"]
    print(f"median of {options.runs} runs per page (worst in brackets), server time in process")
    print(f"{'page':<24} {'1,000 (ms)':>16} {'1,000,000 (ms)':>18} {'ratio':>6}  targets")
    for name in PAGES:
        (fast, fast_worst, few), (slow, slow_worst, many) = small[name], large[name]
        ratio = slow / fast
        verdict = (
            f"ratio <= 1.5 {'ok' if ratio <= 1.5 else 'MISSED'}"
            if few == many
            else f"ratio not comparable: {few} rows shown against {many}"
        )
        print(
            f"{name:<24} {fast:>7.1f} ({fast_worst:>6.1f}) {slow:>8.1f} ({slow_worst:>7.1f}) "
            f"{ratio:>6.2f}  {verdict}, "
            f"< 300 ms {'ok' if slow < 300 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
