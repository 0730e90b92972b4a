"""A small fleet for the tour of the dashboard: three clusters in two lanes, two policies,
findings of every severity and status, scans (one running), requests waiting for approval
and thirty days of rollups. Deterministic, so screenshots look the same run after run."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from drift.models import Cluster, DailyRollup, DriftPolicy, Finding, Lane, RollupScope, Scan
from remediation.models import RemediationRequest, RemediationStep
from tests.factories import GitSourceFactory

IMAGE = "/spec/template/spec/containers/0/image"
# (kind, API group, apiVersion, drifted path, declared value, live value)
DRIFTS = [
    (
        "Deployment",
        "apps",
        "apps/v1",
        IMAGE,
        "registry.example/shop/web:1.4.2",
        "evil.example/web:6.6.6",
    ),
    ("Deployment", "apps", "apps/v1", "/spec/replicas", 3, 1),
    ("ConfigMap", "", "v1", "/data/checkout.timeout", "30s", "90s"),
    (
        "RoleBinding",
        "rbac.authorization.k8s.io",
        "rbac.authorization.k8s.io/v1",
        "/subjects",
        [{"kind": "ServiceAccount", "name": "deployer"}],
        [{"kind": "ServiceAccount", "name": "deployer"}, {"kind": "User", "name": "mallory"}],
    ),
    ("Service", "", "v1", "/spec/ports/0/port", 80, 8080),
]
SEVERITY = {
    "Deployment": "high",
    "ConfigMap": "medium",
    "RoleBinding": "critical",
    "Service": "low",
}


@dataclass
class Fleet:
    clusters: list[Cluster]
    policy: DriftPolicy
    findings: list[Finding]
    running: Scan
    pending: list[RemediationRequest]


def _finding(chance: random.Random, cluster: Cluster, policy: DriftPolicy, n: int) -> Finding:
    kind, group, version, path, declared, live = DRIFTS[n % len(DRIFTS)]
    now = timezone.now()
    first = now - timedelta(hours=chance.randint(1, 240))
    status = chance.choice(["open", "open", "open", "open", "acknowledged", "suppressed"])
    severity = SEVERITY[kind] if n % 4 else chance.choice(["info", "low", "medium"])
    manager = chance.choice(["kubectl-edit", "kubectl-set", "kubectl-patch", "helm"])
    return Finding.objects.create(
        cluster=cluster,
        policy=policy,
        api_group=group,
        api_version=version,
        kind=kind,
        namespace=chance.choice(["shop", "checkout", "payments"]),
        name=f"{['web', 'api', 'cart', 'checkout', 'search'][n % 5]}-{n}",
        type="modified",
        severity=severity,
        status=status,
        suppressed_until=now + timedelta(days=5) if status == "suppressed" else None,
        status_reason="migration in progress" if status == "suppressed" else "",
        first_seen=first,
        sighted_at=now - timedelta(minutes=chance.randint(1, 300)),
        drift_started_at=first - timedelta(minutes=chance.randint(1, 20)),
        occurrences=chance.choice([1, 1, 1, 2, 3, 5]),
        source=f"k8s/{kind.lower()}s.yaml:{chance.randint(1, 200)}",
        diff={
            "paths": [path],
            "fields": [
                {
                    "path": path,
                    "op": "changed",
                    "desired": declared,
                    "live": live,
                    "severity": severity,
                    "managers": [
                        {"manager": manager, "operation": "Update", "time": first.isoformat()}
                    ],
                }
            ],
            "patch": [{"op": "replace", "path": path, "value": declared}],
        },
        attribution=[{"manager": manager, "operation": "Update", "time": first.isoformat()}],
    )


def _pending(finding: Finding, requester: Any, hours: int) -> RemediationRequest:
    request = RemediationRequest.objects.create(
        cluster=finding.cluster,
        policy=finding.policy,
        strategy="sync",
        severity=finding.severity,
        requested_by=requester,
        reason="revert the live edit",
        approvals_required=finding.policy.approvals_needed(finding.severity),
        expires_at=timezone.now() + timedelta(hours=hours),
        revision="9f1c2ab77e0d",
        plan={"revision": "9f1c2ab77e0d", "objects": 1, "changes": 1, "takeovers": 1},
    )
    request.findings.set([finding])
    field = finding.diff["fields"][0]
    RemediationStep.objects.create(
        request=request,
        position=0,
        finding=finding,
        api_version=finding.api_version,
        kind=finding.kind,
        namespace=finding.namespace,
        name=finding.name,
        action="apply",
        source="git:9f1c2ab77e0d",
        changes=[{"path": field["path"], "live": field["live"], "planned": field["desired"]}],
        takeovers=[{"field": field["path"], "from": field["managers"][0]["manager"]}],
    )
    return request


def _rollups(chance: random.Random, scopes: list[tuple[str, int, str]], days: int) -> None:
    today = timezone.localdate()
    rows = []
    for back in range(days):
        for scope, scope_id, name in scopes:
            drift = 6 + 4 * chance.random() + (back % 9) / 2
            rows.append(
                DailyRollup(
                    day=today - timedelta(days=back),
                    scope=scope,
                    scope_id=scope_id,
                    scope_name=name,
                    opened=chance.randint(0, 9),
                    resolved=chance.randint(0, 9),
                    open_critical=chance.randint(0, 2),
                    open_high=chance.randint(1, 5),
                    open_medium=chance.randint(0, 7),
                    open_low=chance.randint(0, 6),
                    open_info=chance.randint(0, 4),
                    objects_in_scope=180,
                    score=round(100 - drift - (back % 5), 1),
                    mttd_median=chance.randint(60, 900),
                    mttd_p90=chance.randint(900, 3600),
                    mttr_median=chance.randint(1800, 20000),
                    mttr_p90=chance.randint(20000, 80000),
                    generated=True,
                )
            )
    DailyRollup.objects.bulk_create(rows)


def small_fleet(requester: Any) -> Fleet:
    chance = random.Random(7)
    fast = Lane.objects.create(
        name="fast", namespaces=["shop", "checkout"], identities=["gitops:deployer"]
    )
    controlled = Lane.objects.create(name="controlled", namespaces=["payments"], branches=["main"])
    now = timezone.now()
    clusters = []
    for name, lanes in (("east", [fast]), ("west", [fast, controlled]), ("central", [controlled])):
        cluster = Cluster.objects.create(
            name=name, labels={"env": "prod"}, last_contact_at=now, server_version="v1.20.2"
        )
        cluster.lanes.set(lanes)
        clusters.append(cluster)
    source = GitSourceFactory(name="deploy", url="https://git.example/deploy.git", path="k8s")
    shop = DriftPolicy.objects.create(
        name="shop",
        source=source,
        cluster_names=["east", "west", "central"],
        description="The shop's workloads, as Git declares them",
        change_windows=[{"cron": "0 22 * * 1-5", "duration": "2h", "timeZone": "Europe/Berlin"}],
    )
    for cluster in clusters:
        Scan.objects.create(
            policy=shop,
            cluster=cluster,
            status="succeeded",
            started_at=now - timedelta(minutes=9),
            finished_at=now - timedelta(minutes=8),
            objects_desired=60,
            objects_live=64,
            findings_open=7,
            findings_opened=2,
            findings_resolved=1,
            progress_done=60,
            progress_total=60,
            revision="9f1c2ab77e0d",
        )
    running = Scan.objects.create(
        policy=DriftPolicy.objects.create(name="platform", source=source, cluster_names=["east"]),
        cluster=clusters[0],
        status="running",
        trigger="manual",
        requested_by=requester,
        started_at=now,
        heartbeat_at=now,
        progress_done=23,
        progress_total=60,
    )
    findings = [_finding(chance, clusters[n % 3], shop, n) for n in range(36)]
    pending = [
        _pending(f, requester, hours)
        for f, hours in zip(
            [f for f in findings if f.status == "open" and f.kind != "Service"][:3],
            (3, 9, 20),
            strict=False,
        )
    ]
    scopes = [(RollupScope.FLEET, 0, "fleet")]
    scopes += [(RollupScope.CLUSTER, c.pk, c.name) for c in clusters]
    scopes += [(RollupScope.LANE, lane.pk, lane.name) for lane in (fast, controlled)]
    scopes += [(RollupScope.POLICY, shop.pk, shop.name)]
    _rollups(chance, scopes, 30)
    return Fleet(clusters, shop, findings, running, pending)
