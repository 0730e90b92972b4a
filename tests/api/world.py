"""A small installation for API tests: one of everything an endpoint can name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from alignment.models import AdmissionDecision
from drift.models import Cluster, DriftPolicy, Finding, GitSource, Lane, Scan
from driftcontrol import tokens, webhooks
from driftcontrol.models import ApiToken, AuditEvent, WebhookDelivery, WebhookSubscription
from driftcontrol.outbox import publish
from remediation.models import Approval, RemediationRequest
from tests.factories import (
    ClusterFactory,
    DriftPolicyFactory,
    FindingFactory,
    GitSourceFactory,
    LaneFactory,
    ScanFactory,
    UserFactory,
)


@dataclass
class World:
    lane: Lane
    cluster: Cluster
    source: GitSource
    policy: DriftPolicy
    finding: Finding
    busy_finding: Finding
    scan: Scan
    request: RemediationRequest
    approval: Approval
    subscription: WebhookSubscription
    delivery: WebhookDelivery
    token: ApiToken
    audit_event: AuditEvent
    admission_decision: AdmissionDecision


def build(requester: Any) -> World:
    """Needs WEBHOOK_ALLOW_PRIVATE_TARGETS (the subscription points at 127.0.0.1)."""
    lane = LaneFactory(name="fast")
    cluster = ClusterFactory(name="east")
    cluster.lanes.add(lane)
    source = GitSourceFactory(name="shop-source")
    policy = DriftPolicyFactory(name="shop", source=source, cluster_names=["east"])
    finding = FindingFactory(cluster=cluster, policy=policy, name="web")
    busy = FindingFactory(cluster=cluster, policy=policy, name="api")
    scan = ScanFactory(policy=policy, cluster=cluster, status="succeeded")
    request = RemediationRequest.objects.create(
        cluster=cluster,
        policy=policy,
        strategy="sync",
        severity="high",
        requested_by=requester,
        approvals_required=3,
    )
    request.findings.set([busy])
    someone = UserFactory(username="bob", role="approver")
    approval = Approval.objects.create(request=request, approver=someone, decision="approve")
    subscription, _ = webhooks.subscribe(
        "cli:test", "tickets", "http://127.0.0.1:9/hooks", ["*"], "s" * 32
    )
    event = publish("finding.opened", {"finding": {"id": finding.pk}})
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event=event, event_type=event.event_type
    )
    token, _ = tokens.create(someone, "bobs", "read", actor="cli:test")
    refused = AdmissionDecision.objects.create(
        at=timezone.now(),
        cluster=cluster,
        lane="fast",
        outcome="deny",
        rules=["lane.deployer"],
        message="lane fast refuses this change: lane.deployer: managed by Git",
        user="mallory",
        operation="UPDATE",
        api_group="apps",
        kind="Deployment",
        namespace="shop",
        name="web",
        uid="705ab4f5-6393-11e8-b7cc-42010a800002",
    )
    return World(
        lane,
        cluster,
        source,
        policy,
        finding,
        busy,
        scan,
        request,
        approval,
        subscription,
        delivery,
        token,
        AuditEvent.objects.order_by("sequence").first(),  # type: ignore[arg-type]
        refused,
    )
