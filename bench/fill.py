"""Fill a benchmark database with a fleet's worth of history, fast (PostgreSQL COPY).

`fill(findings=1_000_000, clusters=200, days=90)`: clusters spread over lanes and
policies, one complete scan per (policy, cluster), findings first seen over `days` days
(about 5% still open, the rest resolved after minutes to days), and the daily rollups of
every scope for those days. Idempotent for a given size: a database already holding that
many findings (or up to 10% more, opened since by a benchmark's scans) is left as it is.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from drift.models.findings import fingerprint

SEVERITIES = (
    ("critical", 4, 0.04),
    ("high", 3, 0.20),
    ("medium", 2, 0.40),
    ("low", 1, 0.30),
    ("info", 0, 0.06),
)
KINDS = (
    ("apps", "apps/v1", "Deployment"),
    ("", "v1", "Service"),
    ("", "v1", "ConfigMap"),
    ("networking.k8s.io", "networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "RoleBinding"),
)
TYPES = (("modified", 0.85), ("missing", 0.10), ("unmanaged", 0.05))


def _pick(rng: random.Random, weighted: tuple) -> tuple:  # type: ignore[type-arg]
    roll, total = rng.random(), 0.0
    for item in weighted:
        total += item[-1]
        if roll <= total:
            return item  # type: ignore[no-any-return]
    return weighted[-1]  # type: ignore[no-any-return]


def fill(findings: int, clusters: int = 200, days: int = 90, seed: int = 7) -> bool:
    """Fill the database unless it holds `findings` already; whether it filled it now."""
    from drift.models import Cluster, DriftPolicy, Finding, GitSource, Lane

    # Kept once filled: bench/steady_state.py's scans open (and resolve) findings on top.
    if findings <= Finding.objects.count() < findings * 1.1:
        return False
    started = time.monotonic()
    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE drift_finding, drift_scopesighting, drift_scan, drift_dailyrollup, "
            "drift_driftpolicy, drift_gitsource, drift_cluster_lanes, drift_cluster, "
            "drift_lane RESTART IDENTITY CASCADE"
        )
    with transaction.atomic():
        lanes = [Lane.objects.create(name=f"lane-{n}") for n in range(10)]
        source = GitSource.objects.create(name="fleet", url="/srv/git/fleet.git")
        policies = [
            DriftPolicy.objects.create(name=f"policy-{n}", source=source, cluster_names=[])
            for n in range(5)
        ]
        fleet = Cluster.objects.bulk_create(
            [
                Cluster(name=f"cluster-{n:03d}", labels={"region": f"r{n % 4}"})
                for n in range(clusters)
            ]
        )
        for index, cluster in enumerate(fleet):
            cluster.lanes.add(lanes[index % len(lanes)])
        _scans(policies, fleet)
    _copy_findings(rng, findings, [c.pk for c in fleet], [p.pk for p in policies], days)
    _rollups(rng, days, fleet, lanes, policies)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE drift_finding; ANALYZE drift_dailyrollup;")
    print(
        f"filled {findings:,} findings over {clusters} clusters and {days} days in "
        f"{time.monotonic() - started:.0f} s"
    )
    return True


def _scans(policies: list[Any], fleet: list[Any]) -> None:
    """One complete scan per (policy, cluster), each its scope's last sighting."""
    from drift.models import Scan, ScopeSighting

    now = timezone.now()
    scans = Scan.objects.bulk_create(
        [
            Scan(
                policy=policy,
                cluster=cluster,
                status="succeeded",
                trigger="schedule",
                started_at=now,
                finished_at=now,
                objects_desired=500,
                objects_live=520,
                progress_done=1,
                progress_total=1,
            )
            for policy in policies
            for cluster in fleet
        ]
    )
    # Each scope's last complete pass vouches for its open findings, as the ledger's.
    ScopeSighting.objects.bulk_create(
        [ScopeSighting(policy=s.policy, cluster=s.cluster, seen_at=now, scan=s) for s in scans]
    )


FINDING_COLUMNS = (
    "cluster_id",
    "policy_id",
    "api_group",
    "api_version",
    "kind",
    "namespace",
    "name",
    "source",
    "type",
    "severity",
    "severity_rank",
    "status",
    "status_reason",
    "fingerprint",
    "diff",
    "attribution",
    "first_seen",
    "sighted_at",
    "resolved_at",
    "drift_started_at",
    "occurrences",
    "ticket_id",
    "ticket_url",
    "updated_at",
)
DIFF = json.dumps({"paths": ["/spec/template/spec/containers/0/image"], "fields": [], "patch": []})


def _finding_row(
    rng: random.Random,
    index: int,
    now: datetime,
    clusters: list[int],
    policies: list[int],
    days: int,
) -> tuple[object, ...]:
    """One finding as COPY reads it, in FINDING_COLUMNS order: 5% still open, the rest
    resolved after about two hours, detected about 30 s after the change."""
    group, api_version, kind = rng.choice(KINDS)
    severity, severity_rank, _ = _pick(rng, SEVERITIES)
    finding_type, _ = _pick(rng, TYPES)
    first_seen = now - timedelta(seconds=rng.uniform(0, days * 86400))
    still_open = rng.random() < 0.05
    resolved = None if still_open else first_seen + timedelta(seconds=rng.expovariate(1 / 7200))
    last_seen = resolved or now - timedelta(seconds=rng.uniform(0, 600))
    started = first_seen - timedelta(seconds=rng.expovariate(1 / 30))
    cluster, namespace, name = rng.choice(clusters), f"team-{rng.randint(0, 49)}", f"app-{index}"
    return (
        cluster,
        rng.choice(policies),
        group,
        api_version,
        kind,
        namespace,
        name,
        "",
        finding_type,
        severity,
        severity_rank,
        "open" if still_open else "resolved",
        "",
        # The ledger's own: a scan that sees this drift again finds this row.
        fingerprint(cluster, group, kind, namespace, name, finding_type),
        DIFF,
        "[]",
        first_seen.isoformat(),
        last_seen.isoformat(),  # sighted_at: for open ones, the scope's sighting is later
        resolved.isoformat() if resolved else r"\N",  # NULL: "" is an empty string
        started.isoformat(),
        1 + int(rng.expovariate(1.5)),
        "",
        "",
        last_seen.isoformat(),  # a finding last changed when it was last seen
    )


def _copy(buffer: io.StringIO) -> None:
    """COPY the rows written to the buffer into drift_finding, and empty it."""
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY drift_finding ({', '.join(FINDING_COLUMNS)}) FROM STDIN WITH "
            r"(FORMAT csv, NULL '\N')",
            buffer,
        )
    buffer.seek(0)
    buffer.truncate()


def _copy_findings(
    rng: random.Random, count: int, clusters: list[int], policies: list[int], days: int
) -> None:
    now = timezone.now()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for index in range(count):
        writer.writerow(_finding_row(rng, index, now, clusters, policies, days))
        if index % 100_000 == 99_999:  # in slices: a million rows at once is 400 MB of text
            _copy(buffer)
    _copy(buffer)


def _rollups(
    rng: random.Random,
    days: int,
    clusters: list,
    lanes: list,  # type: ignore[type-arg]
    policies: list,
) -> None:  # type: ignore[type-arg]
    from drift.models import DailyRollup, RollupScope

    today = timezone.localdate()
    scopes = [(RollupScope.FLEET, 0, "fleet")]
    scopes += [(RollupScope.CLUSTER, c.pk, c.name) for c in clusters]
    scopes += [(RollupScope.LANE, lane.pk, lane.name) for lane in lanes]
    scopes += [(RollupScope.POLICY, p.pk, p.name) for p in policies]
    rows = [
        DailyRollup(
            day=today - timedelta(days=back),
            scope=scope,
            scope_id=scope_id,
            scope_name=name,
            opened=rng.randint(0, 300),
            resolved=rng.randint(0, 300),
            open_critical=rng.randint(0, 20),
            open_high=rng.randint(0, 90),
            open_medium=rng.randint(0, 200),
            open_low=rng.randint(0, 150),
            objects_in_scope=2500,
            score=rng.uniform(70, 99),
            mttd_median=rng.uniform(1, 60),
            mttd_p90=rng.uniform(60, 300),
            mttr_median=rng.uniform(600, 7200),
            mttr_p90=rng.uniform(7200, 40000),
        )
        for scope, scope_id, name in scopes
        for back in range(days, -1, -1)
    ]
    DailyRollup.objects.bulk_create(rows, batch_size=5000)
