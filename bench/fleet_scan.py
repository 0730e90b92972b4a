"""Benchmark of a fleet's scans (issue: fleet-scale steady state): can one worker process
per core keep 200 clusters on 2-minute intervals?

The fleet is 200 registered clusters with 3 policies each (600 scopes a round), reached
on the two local API servers (test-a and test-b: as many clusters as fit here, the rest
repeated scopes of them) as the least-privilege scanner identity. Each policy compares
its namespace (fleet-0, fleet-1, fleet-2 on both servers) with the shop's manifests in a
Git repository; one Deployment per namespace is edited live, so every scope has drift.
A round runs every scope once, spread over one process per core, as Celery workers would.
The first round opens the findings; the second is the steady state measured: scans per
minute (and whether 600 of them fit in the 2-minute interval), rows written per scan
(PostgreSQL's counters over every table), and the database's growth, scaled to a day.

Run: .venv/bin/python bench/fleet_scan.py [--clusters 200] [--processes 2]
(the database driftcontrol_bench_fleet is created on each run)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SHOP, kubeconfig, kubectl

DATABASE = "driftcontrol_bench_fleet"
NAMESPACES = ("fleet-0", "fleet-1", "fleet-2")
SERVERS = ("test-a", "test-b")
INTERVAL = 120
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    "DEBUG": "0",
    "SECRET_KEY": "bench-" + "x" * 50,
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=",
    "GIT_LOCAL_ROOTS": tempfile.gettempdir(),
}


def deploy() -> None:
    """The shop in every namespace of both servers, one Deployment edited live in each."""
    for server in SERVERS:
        existing = kubectl("get", "namespaces", "-o", "name", name=server)
        for namespace in NAMESPACES:
            if f"namespace/{namespace}" not in existing:
                kubectl("create", "namespace", namespace, name=server)
            kubectl("apply", "-n", namespace, "-f", str(SHOP), name=server)
            kubectl(
                "set", "image", "-n", namespace, "deployment/web", "web=rogue.example/web:9",
                name=server,
            )  # fmt: skip


def repository() -> Path:
    repo = Path(tempfile.mkdtemp(prefix="bench-fleet-")) / "deploy"
    (repo / "k8s").mkdir(parents=True)
    (repo / "k8s" / "shop.yaml").write_text(SHOP.read_text())
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "shop"], check=True)
    return repo


def register(clusters: int, repo: Path) -> None:
    """A fresh database with the fleet: clusters alternate between the two servers."""
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DATABASE])
    from bench.common import setup_django

    setup_django(DATABASE)
    from drift.models import Cluster, DriftPolicy, GitSource

    credentials = {s: Path(kubeconfig("driftcontrol-scanner", s)).read_text() for s in SERVERS}
    source = GitSource.objects.create(name="shop", url=str(repo), ref="main", path="k8s")
    for index in range(clusters):
        cluster = Cluster(name=f"cluster-{index:03d}", labels={"fleet": "bench"})
        cluster.set_credentials(credentials[SERVERS[index % len(SERVERS)]])
        cluster.save()
    for namespace in NAMESPACES:
        DriftPolicy.objects.create(
            name=f"shop-{namespace}",
            source=source,
            cluster_selector={"matchLabels": {"fleet": "bench"}},
            default_namespace=namespace,
            namespaces={"include": [namespace], "exclude": []},
            interval_seconds=INTERVAL,
        )


def worker(part: int, parts: int) -> None:
    """Scan this process's share of the scopes once, as a Celery worker runs them."""
    from bench.common import setup_django

    setup_django(DATABASE)
    from drift.models import Cluster, DriftPolicy
    from drift.services import scanning

    scopes = [(p, c) for p in DriftPolicy.objects.all() for c in Cluster.objects.all()]
    failed = 0
    for policy, cluster in scopes[part::parts]:
        queued, _ = scanning.request(policy, cluster, enqueue=False)
        done = scanning.run(queued.pk)
        failed += done is None or done.status != "succeeded"
    print(json.dumps({"failed": failed}))


def _totals() -> dict[str, int]:
    import psycopg2

    db = psycopg2.connect(f"dbname={DATABASE} user=postgres host=127.0.0.1")
    with db, db.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0), "
            "pg_database_size(current_database()) FROM pg_stat_user_tables"
        )
        rows, size = cursor.fetchone()
    db.close()
    return {"rows": int(rows), "bytes": int(size)}


def round_of_scans(processes: int) -> tuple[float, int]:
    started = time.monotonic()
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(part), str(processes)],
            cwd=ROOT,
            env={**os.environ, **ENV},
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in range(processes)
    ]
    failed = sum(
        json.loads(child.communicate()[0].splitlines()[-1])["failed"] for child in children
    )
    return time.monotonic() - started, failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--worker", nargs=2, type=int)
    options = parser.parse_args()
    os.environ.update(ENV)
    if options.worker:
        worker(*options.worker)
        return
    deploy()
    register(options.clusters, repository())
    scans = options.clusters * len(NAMESPACES)
    first, failed_first = round_of_scans(options.processes)
    before = _totals()
    steady, failed = round_of_scans(options.processes)
    after = _totals()
    rows = (after["rows"] - before["rows"]) / scans
    growth = (after["bytes"] - before["bytes"]) * (86400 / INTERVAL)
    print(
        f"fleet: {options.clusters} clusters x {len(NAMESPACES)} policies = {scans} scans a "
        f"round, on {len(SERVERS)} local API servers; {options.processes} worker processes"
    )
    print(f"first round (opens the findings): {first:.0f} s, {failed_first} scans failed")
    print(
        f"steady round: {steady:.0f} s = {scans / steady * 60:.0f} scans per minute "
        f"({'keeps' if steady <= INTERVAL else 'does NOT keep'} up with {INTERVAL} s "
        f"intervals), {failed} failed"
    )
    print(f"rows written per steady scan, every table: {rows:.1f}")
    print(f"database growth in steady state: {growth / 2**20:.0f} MiB per day at this rate")


if __name__ == "__main__":
    main()
