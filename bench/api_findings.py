"""Benchmark: the findings list endpoint with 1,000 findings and with 1,000,000.

Each size lives in a PostgreSQL database of its own (made once with COPY, kept for the
next run): a ledger where most rows are history (resolved) and 10 % are the working set,
over 50 clusters and 20 policies. For each size it times GET /api/v1/findings/ through
the whole Django stack (token authentication, the dashboard's FindingFilter, keyset
cursor, serialization): the first page, a filtered page (one policy, medium or worse),
and a page deep in the cursor (90 % of the way through the working set), each a
full page of 50. Figures are
medians over repeated requests after a warm-up; the target is a ratio of 1.5 or less.

Run: .venv/bin/python bench/api_findings.py [--repeat 40]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = {"small": 1_000, "large": 1_000_000}
CLUSTERS, POLICIES = 50, 20
OPEN_SHARE = 0.10
SEVERITIES = ["info", "low", "medium", "high", "critical"]
KINDS = ["Deployment", "ConfigMap", "Service", "Role", "Secret", "StatefulSet"]
PAGE = 50


def _fill(total: int) -> None:
    """COPY ``total`` findings into an empty ledger (a few minutes for a million)."""
    from django.db import connection, transaction

    from drift.models import Cluster, DriftPolicy, Finding, GitSource

    source = GitSource.objects.create(name="bench", url="/srv/git/bench")
    clusters = [Cluster.objects.create(name=f"c{n}") for n in range(CLUSTERS)]
    policies = [
        DriftPolicy.objects.create(name=f"p{n}", source=source, cluster_names=[])
        for n in range(POLICIES)
    ]
    columns = [f for f in Finding._meta.concrete_fields if f.name != "id"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    buffer = io.StringIO()
    step = timedelta(days=330) / total
    rng = random.Random(42)  # the same ledger on every machine
    for n in range(total):
        is_open = rng.random() < OPEN_SHARE
        severity = rng.choice(SEVERITIES)
        first_seen = start + n * step
        # Findings of one scan share their timestamps: ties the cursor must order by id.
        last_seen = first_seen + timedelta(hours=(n % 48)) if not is_open else first_seen
        values = {
            "cluster": clusters[rng.randrange(CLUSTERS)].pk,
            "policy": policies[rng.randrange(POLICIES)].pk,
            "api_group": "apps",
            "api_version": "apps/v1",
            "kind": KINDS[n % len(KINDS)],
            "namespace": f"ns-{n % 300}",
            "name": f"object-{n}",
            "source": f"k8s/app-{n % 500}.yaml:1",
            "type": "modified",
            "severity": severity,
            "severity_rank": SEVERITIES.index(severity),
            "status": "open" if is_open else "resolved",
            "status_reason": "",
            "fingerprint": hashlib.sha256(str(n).encode()).hexdigest(),
            "diff": json.dumps({"paths": ["/spec/replicas"]}),
            "attribution": "[]",
            "first_seen": first_seen.isoformat(),
            "last_seen": last_seen.isoformat(),
            "resolved_at": None if is_open else (last_seen + timedelta(hours=2)).isoformat(),
            "drift_started_at": (first_seen - timedelta(minutes=3)).isoformat(),
            "occurrences": 1 + n % 3,
            "ticket_id": "",
            "ticket_url": "",
        }
        row = []
        for column in columns:
            value = values.get(column.name)
            row.append("\\N" if value is None else str(value).replace("\t", " "))
        buffer.write("\t".join(row) + "\n")
    buffer.seek(0)
    names = ", ".join(f'"{c.column}"' for c in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(f"COPY drift_finding ({names}) FROM STDIN", buffer)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE drift_finding")


def _cursor_at(position: int) -> str:
    """The cursor a client holds after paging to ``position`` of the default list."""
    from drift.models import Finding

    row = Finding.objects.open().order_by("-last_seen", "-id")[position]
    raw = {"o": "-last_seen", "v": [row.last_seen.isoformat(), row.pk]}
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def measure(size: str, repeat: int) -> dict[str, float]:
    """In a process set up for the ``size`` database: median milliseconds per request."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from drift.models import Finding
    from driftcontrol import tokens
    from driftcontrol.permissions import set_role

    if not Finding.objects.exists():
        print(f"filling {size}: {SIZES[size]:,} findings ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        _fill(SIZES[size])
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    setup_test_environment()  # the test client without a test database
    user, _ = get_user_model().objects.get_or_create(username="bench")
    set_role(user, "viewer")
    _, raw = tokens.create(user, "bench", "read", actor="cli:bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="127.0.0.1")
    working_set = Finding.objects.open().count()
    # Every page compared is a full one (50 rows), so the ratio measures how the list
    # scales, not how many rows it serializes: the deep page is 90 % of the way through,
    # or as deep as the small ledger allows with a full page after it.
    deep = min(int(working_set * 0.9), working_set - PAGE - 1)
    urls = {
        "first page": "/api/v1/findings/",
        "filtered page": "/api/v1/findings/?min_severity=medium",
        # type= and severity= are MultipleChoiceFilters, which add DISTINCT by default;
        # DISTINCT makes PostgreSQL sort every matching row instead of walking an index.
        "filtered, DISTINCT": "/api/v1/findings/?min_severity=medium&type=modified",
        "deep page": f"/api/v1/findings/?cursor={_cursor_at(deep)}",
    }
    results: dict[str, float] = {}
    for label, url in urls.items():
        for _ in range(5):
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            assert len(response.json()["results"]) == PAGE, (label, response.content[:300])
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        results[label] = statistics.median(timings)
    results["findings"] = float(Finding.objects.count())
    results["deep position"] = float(deep)
    results["working set"] = float(working_set)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--size", choices=SIZES, help=argparse.SUPPRESS)  # the child's part
    options = parser.parse_args()
    if options.size:
        from bench.common import setup_django

        # Production settings (DEBUG off: no query log, no browsable renderer).
        os.environ.update(
            DEBUG="0",
            SECRET_KEY="bench-" + "x" * 50,
            FIELD_ENCRYPTION_KEYS="ZHJpZnRjb250cm9sLWRldi1vbmx5LWZpZWxkLWtleSE=",
            API_THROTTLE_RATE="1000000/minute",
            STATIC_MANIFEST="0",
        )
        setup_django(f"driftcontrol_bench_api_{options.size}")
        print(json.dumps(measure(options.size, options.repeat)))
        return
    figures = {}
    for size in SIZES:
        # One process per database: Django holds one default database per process.
        done = subprocess.run(
            [sys.executable, __file__, "--size", size, "--repeat", str(options.repeat)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        figures[size] = json.loads(done.stdout.strip().splitlines()[-1])
    small, large = figures["small"], figures["large"]
    print(
        f"findings list, median of {options.repeat} requests "
        f"({int(small['findings']):,} vs {int(large['findings']):,} findings; "
        f"working sets {int(small['working set']):,} vs {int(large['working set']):,}; "
        f"deep page at row {int(small['deep position']):,} vs {int(large['deep position']):,})"
    )
    print(f"{'':<19}{'1,000':>10}{'1,000,000':>12}{'ratio':>8}")
    for label in ("first page", "filtered page", "deep page", "filtered, DISTINCT"):
        ratio = large[label] / small[label]
        print(f"{label:<19}{small[label]:>8.1f}ms{large[label]:>10.1f}ms{ratio:>8.2f}")


if __name__ == "__main__":
    main()
