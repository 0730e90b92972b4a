"""Benchmark of the pages while scans write (issue: fleet-scale steady state).

On the 1,000,000-finding database of bench/dashboard.py (filled if missing, else kept as
autovacuum left it; never VACUUMed by hand), one process re-scans every (policy, cluster)
scope in turn through the findings ledger, without pause. First alone, seeing each
scope's open drift again unchanged (a quiet steady state: what does the ledger write?);
then under load, each scan finding 5% of its drift changed, 2% gone and as much new,
while another process measures the overview, the findings list, a finding's page, trends
and the API's findings list, in the same order, again and again. The same pages are
measured before, with no writes, for comparison. Printed: per page the median and p95,
quiet and under writes; scans per minute; rows the ledger wrote per scan (PostgreSQL's
own counters for drift_finding); and the findings each scan saw.

Run: .venv/bin/python bench/steady_state.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "driftcontrol_bench_large"
FINDINGS = 1_000_000
# The goal compares each page with its figure at 1,000 findings (bench/dashboard.py's).
SMALL, SMALL_FINDINGS = "driftcontrol_bench_small", 1_000
ENV = {
    "DEBUG": "0",  # DEBUG would record every query
    "SECRET_KEY": "bench-" + "x" * 50,
    "STATIC_MANIFEST": "0",
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=",
    "ALLOWED_HOSTS": "testserver",
}


def _django(database: str = DATABASE) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.common import setup_django

    setup_django(database)


def _pages() -> dict[str, str]:
    from drift.models import Finding

    one = Finding.objects.open().order_by("-last_seen").values_list("pk", flat=True).first()
    return {
        "overview": "/",
        "findings": "/findings/",
        "finding": f"/findings/{one}/",
        "trends": "/trends/?days=30",
        "api findings": "/api/v1/findings/",
    }


def read(seconds: float, until_file: str, database: str) -> None:
    """Measure every page in turn until ``seconds`` pass (or the file appears)."""
    _django(database)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from driftcontrol.permissions import set_role

    user, _ = get_user_model().objects.get_or_create(username="bench")
    set_role(user, "admin")
    client = Client()
    client.force_login(user)
    pages = _pages()
    times: dict[str, list[float]] = {name: [] for name in pages}
    for url in pages.values():
        client.get(url)  # warm: first query plans, template cache
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not os.path.exists(until_file):
        for name, url in pages.items():
            started = time.perf_counter()
            response = client.get(url)
            times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    print(json.dumps(times))


# Under load, each scan finds part of its scope's drift changed, part of it gone and as
# much new: what a busy fleet sees. The quiet steady state changes nothing.
CHANGED, GONE = 0.05, 0.02


def write(seconds: float, churn: bool) -> None:
    """Re-scan every (policy, cluster) scope in turn through the ledger, without pause."""
    _django()
    from drift.models import Cluster, DriftPolicy

    scopes = [(p, c) for p in DriftPolicy.objects.all() for c in Cluster.objects.all()]
    rng = random.Random(11)
    before = _counters()
    scans = seen = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        policy, cluster = scopes[scans % len(scopes)]
        seen += _scan(policy, cluster, rng if churn else None, scans)
        scans += 1
    elapsed = time.monotonic() - started
    after = _counters()
    written = {name: after[name] - before[name] for name in after}
    print(json.dumps({"scans": scans, "seen": seen, "seconds": elapsed, "written": written}))


def _scan(policy: Any, cluster: Any, rng: random.Random | None, number: int) -> int:
    """One pass of the ledger over the scope's open drift, as a scan would record it."""
    from drift.engine.normalize import ObjectKey
    from drift.models import Finding
    from drift.services import ledger

    observed = []
    for f in Finding.objects.open().filter(policy=policy, cluster=cluster):
        roll = rng.random() if rng else 1.0
        if roll < GONE:
            continue  # fixed on the cluster: the ledger resolves it
        diff = {**f.diff, "bench": number} if roll < GONE + CHANGED else f.diff
        observed.append(_observation(ledger.key_of(f), f, diff))
    if rng and observed:
        for n in range(round(len(observed) * GONE)):
            key = ObjectKey("apps", "Deployment", "bench", f"new-{number}-{n}")
            observed.append(dataclasses.replace(observed[0], key=key, diff={"new": n}))
    ledger.record(policy, cluster, observed, lambda key: True)
    return len(observed)


def _observation(key: Any, like: Any, diff: dict[str, Any]) -> Any:
    from drift.services import ledger

    return ledger.Observation(
        key=key,
        api_version=like.api_version,
        type=like.type,
        severity=like.severity,
        diff=diff,
        attribution=like.attribution,
        source=like.source,
        drift_started_at=like.drift_started_at.isoformat() if like.drift_started_at else None,
    )


def _counters() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_force_next_flush()"
            if connection.pg_version >= 150000
            else "SELECT pg_stat_clear_snapshot()"
        )
        cursor.execute(
            "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables "
            "WHERE relname = 'drift_finding'"
        )
        inserted, updated, hot, deleted = cursor.fetchone()
    return {"inserted": inserted, "updated": updated, "hot updates": hot, "deleted": deleted}


def _child(database: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", *args, database],
        cwd=ROOT,
        env={**os.environ, **ENV, "DATABASE_URL": _url(database)},
        stdout=subprocess.PIPE,
        text=True,
    )


def _url(database: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{database}"


def _prepare(database: str, findings: int) -> str:
    """Fill the database if needed; what state it is in."""
    script = (
        "import sys; sys.path.insert(0, '.'); from bench.common import setup_django; "
        f"setup_django({database!r}); from bench.fill import fill; "
        f"print('filled now, ANALYZE after the fill' if fill({findings}) else "
        "'kept from an earlier run, as the server left it (see autovacuum below)')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **ENV, "DATABASE_URL": _url(database)},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"filling {database} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def _autovacuum() -> str:
    """The server's setting: a CI machine may turn it off, and then nothing is vacuumed."""
    import psycopg2

    db = psycopg2.connect(f"dbname={DATABASE} user=postgres host=127.0.0.1")
    with db, db.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        (setting,) = cursor.fetchone()
    db.close()
    return "on" if setting == "on" else "OFF (dead rows are never vacuumed during the run)"


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _measure(seconds: float) -> tuple[dict[str, Any], ...]:
    """The pages at 1,000 findings and at 1,000,000 quiet; the ledger re-scanning with
    nothing changed, alone; then the pages at 1,000,000 while scans change drift."""
    small = json.loads(_child(SMALL, "read", str(seconds / 2), "-").communicate()[0])
    quiet = json.loads(_child(DATABASE, "read", str(seconds / 2), "-").communicate()[0])
    steady = json.loads(_child(DATABASE, "write", str(seconds / 2), "steady").communicate()[0])
    writer = _child(DATABASE, "write", str(seconds), "churn")
    loaded = json.loads(_child(DATABASE, "read", str(seconds), "-").communicate()[0])
    return small, quiet, loaded, steady, json.loads(writer.communicate()[0])


def _print_writes(what: str, wrote: dict[str, Any]) -> None:
    scans = max(wrote["scans"], 1)
    print(
        f"scans, {what}: one process, {wrote['scans']} scans in {wrote['seconds']:.0f} s "
        f"({wrote['scans'] / wrote['seconds'] * 60:.0f} per minute), "
        f"{wrote['seen'] / scans:.1f} findings seen per scan; rows written to drift_finding "
        "per scan: "
        + ", ".join(f"{name} {value / scans:.1f}" for name, value in wrote["written"].items())
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--child", nargs="+")
    options = parser.parse_args()
    if options.child:
        role, *rest = options.child
        if role == "read":
            read(float(rest[0]), rest[1], rest[2])
        else:
            write(float(rest[0]), churn=rest[1] == "churn")
        return
    states = [_prepare(SMALL, SMALL_FINDINGS), _prepare(DATABASE, FINDINGS)]
    small, quiet, loaded, steady, wrote = _measure(options.seconds)
    print(f"databases: {SMALL_FINDINGS:,} findings {states[0]}; {FINDINGS:,} findings {states[1]}")
    print(
        f"the server's autovacuum: {_autovacuum()} (drift_finding's own thresholds from its "
        "migration 0009); no manual VACUUM; server time in process, ms"
    )
    _print_writes("steady state, alone: nothing changed", steady)
    _print_writes(
        f"under load, while pages are read: {CHANGED:.0%} of each scan's drift changed, "
        f"{GONE:.0%} gone and as much new",
        wrote,
    )
    print(
        f"{'page':<13} {'1k median':>9} {'1M quiet median/p95':>20} "
        f"{'1M writing median/p95':>22}  goal"
    )
    for name in quiet:
        base, (q50, q95), (w50, w95) = (
            _summary(small[name])[0],
            _summary(quiet[name]),
            _summary(loaded[name]),
        )
        ratio = w50 / base
        verdict = "met" if ratio <= 1.5 and w50 < 300 and w95 < 500 else "MISSED"
        print(
            f"{name:<13} {base:>9.1f} {q50:>10.1f}/{q95:<9.1f} {w50:>11.1f}/{w95:<10.1f} "
            f"{verdict} ({ratio:.2f}x the 1k median; median < 300, p95 < 500)"
        )


if __name__ == "__main__":
    main()
