"""Fixtures for the dashboard's view tests: a small fleet with drift, remediation requests
with plans, and daily rollups, all made through the ORM (no cluster needed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from drift.models import DailyRollup, Finding, RollupScope
from remediation.models import Approval, RemediationRequest, RemediationStep
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory, LaneFactory

IMAGE = "/spec/template/spec/containers/0/image"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # The overview keeps MTTD and MTTR for a few minutes; each test computes its own.
    cache.clear()


@pytest.fixture
def lane(db: None) -> Any:
    return LaneFactory(name="fast")


@pytest.fixture
def east(db: None, lane: Any) -> Any:
    cluster = ClusterFactory(name="east", labels={"env": "prod"})
    cluster.lanes.add(lane)
    return cluster


@pytest.fixture
def west(db: None) -> Any:
    return ClusterFactory(name="west")


@pytest.fixture
def shop(db: None, east: Any, west: Any) -> Any:
    return DriftPolicyFactory(name="shop", cluster_names=["east", "west"])


def modified_diff(live: str = "evil.example/web:6.6.6") -> dict[str, Any]:
    return {
        "paths": [IMAGE],
        "fields": [
            {
                "path": IMAGE,
                "op": "changed",
                "desired": "registry.example/shop/web:1.4.2",
                "live": live,
                "severity": "high",
                "managers": [
                    {
                        "manager": "kubectl-set",
                        "operation": "Update",
                        "time": "2026-11-30T10:00:00Z",
                    }
                ],
            }
        ],
        "patch": [{"op": "replace", "path": IMAGE, "value": "registry.example/shop/web:1.4.2"}],
    }


@pytest.fixture
def make_finding(east: Any, shop: Any) -> Any:
    def make(**fields: Any) -> Finding:
        fields.setdefault("cluster", east)
        fields.setdefault("policy", shop)
        fields.setdefault("diff", modified_diff())
        fields.setdefault(
            "attribution",
            [{"manager": "kubectl-set", "operation": "Update", "time": "2026-11-30T10:00:00Z"}],
        )
        return FindingFactory(**fields)

    return make


@pytest.fixture
def make_request(shop: Any) -> Any:
    """A remediation request as request_remediation stores it, without planning against a
    cluster: one sync step per finding, changing the image back."""

    def make(findings: list[Finding], requester: Any, **fields: Any) -> RemediationRequest:
        fields.setdefault("status", "pending")
        fields.setdefault("approvals_required", 1)
        fields.setdefault("strategy", "sync")
        fields.setdefault("severity", max((f.severity for f in findings), default="high"))
        request = RemediationRequest.objects.create(
            cluster=findings[0].cluster,
            policy=findings[0].policy,
            requested_by=requester,
            reason="revert the live edit",
            expires_at=timezone.now() + timedelta(hours=3),
            plan={"revision": "abc123", "objects": len(findings), "changes": len(findings)},
            **fields,
        )
        request.findings.set(findings)
        RemediationStep.objects.bulk_create(
            [
                RemediationStep(
                    request=request,
                    position=index,
                    finding=finding,
                    api_version="apps/v1",
                    kind=finding.kind,
                    namespace=finding.namespace,
                    name=finding.name,
                    action="apply",
                    source="git:abc123",
                    changes=[
                        {
                            "path": IMAGE,
                            "live": "evil.example/web:6.6.6",
                            "planned": "registry.example/shop/web:1.4.2",
                        }
                    ],
                    takeovers=[
                        {
                            "field": "/spec/template/spec/containers[name=web]/image",
                            "from": "kubectl-set",
                        }
                    ],
                )
                for index, finding in enumerate(findings)
            ]
        )
        return request

    return make


def approve_as(request: RemediationRequest, user: Any, version: int | None = None) -> Approval:
    return Approval.objects.create(
        request=request,
        approver=user,
        decision="approve",
        plan_version=version or request.plan_version,
    )


@pytest.fixture
def rollups(east: Any, lane: Any, shop: Any) -> list[DailyRollup]:
    """Thirty days of rollups for the fleet, cluster east, lane fast and policy shop."""
    today = timezone.localdate()
    rows = []
    for back in range(30):
        day = today - timedelta(days=back)
        for scope, scope_id, name in (
            (RollupScope.FLEET, 0, "fleet"),
            (RollupScope.CLUSTER, east.pk, "east"),
            (RollupScope.LANE, lane.pk, "fast"),
            (RollupScope.POLICY, shop.pk, "shop"),
        ):
            rows.append(
                DailyRollup(
                    day=day,
                    scope=scope,
                    scope_id=scope_id,
                    scope_name=name,
                    opened=back % 4,
                    resolved=back % 3,
                    open_high=2,
                    open_critical=back % 2,
                    objects_in_scope=40,
                    score=90.0 - back % 5,
                    mttd_median=120.0 + back,
                    mttd_p90=600.0,
                    mttr_median=3600.0,
                    mttr_p90=7200.0,
                )
            )
    return DailyRollup.objects.bulk_create(rows)
