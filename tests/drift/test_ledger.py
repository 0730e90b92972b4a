"""The findings ledger (drift.services.ledger.record): what a scan or a watch event saw,
turned into finding rows, outbox events and one audit event per change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from drift.engine.normalize import ObjectKey
from drift.models import Cluster, DriftPolicy, Finding, FindingStatus, Scan
from drift.services import ledger
from drift.services.ledger import Observation
from drift.services.ledger_events import event_payload
from driftcontrol.models import AuditEvent, OutboxEvent
from tests.factories import ClusterFactory, DriftPolicyFactory, ScanFactory

pytestmark = pytest.mark.django_db

WEB = ObjectKey("apps", "Deployment", "shop", "web")
API = ObjectKey("apps", "Deployment", "shop", "api")
SETTINGS = ObjectKey("", "ConfigMap", "shop", "settings")


def everything(key: ObjectKey) -> bool:
    return True


def nothing(key: ObjectKey) -> bool:
    return False


def seen(
    key: ObjectKey = WEB,
    severity: str = "high",
    type: str = "modified",
    paths: tuple[str, ...] = ("/spec/replicas",),
    **more: Any,
) -> Observation:
    api_version = f"{key.group}/v1" if key.group else "v1"
    return Observation(
        key, api_version, type, severity, {"paths": list(paths)}, source="k8s/app.yaml:1", **more
    )


@pytest.fixture
def cluster() -> Cluster:
    return ClusterFactory(name="prod-eu")


@pytest.fixture
def policy() -> DriftPolicy:
    return DriftPolicyFactory(name="shop")


@pytest.fixture
def scans(policy: DriftPolicy, cluster: Cluster) -> Iterator[Scan]:
    """A new (finished) scan of the pair each time one is taken."""

    def scans() -> Iterator[Scan]:
        while True:
            yield ScanFactory(policy=policy, cluster=cluster, status="succeeded")

    return scans()


def events(event_type: str) -> list[dict[str, Any]]:
    return [e.payload for e in OutboxEvent.objects.filter(event_type=event_type)]


def as_stored(payload: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


# --- opening -----------------------------------------------------------------------------


def test_it_opens_a_finding_for_an_object_seen_drifting(
    policy: DriftPolicy, cluster: Cluster, scans: Iterator[Scan], settings: Any
) -> None:
    settings.BASE_URL = "https://drift.example.com/"
    scan = next(scans)

    outcome = ledger.record(policy, cluster, [seen()], everything, scan=scan)

    finding = Finding.objects.get()
    assert outcome.opened == [finding]
    assert (outcome.seen_again, outcome.resolved, outcome.open_count) == ([], [], 1)
    assert (finding.cluster, finding.policy, finding.last_scan_id) == (cluster, policy, scan.pk)
    assert (finding.api_group, finding.kind, finding.namespace, finding.name) == (
        "apps",
        "Deployment",
        "shop",
        "web",
    )
    assert (finding.type, finding.severity, finding.status) == ("modified", "high", "open")
    assert (finding.api_version, finding.source, finding.occurrences) == (
        "apps/v1",
        "k8s/app.yaml:1",
        1,
    )
    assert finding.first_seen == finding.last_seen
    assert finding.diff == {"paths": ["/spec/replicas"]}
    assert events("finding.opened") == [as_stored(event_payload(finding))]
    payload = events("finding.opened")[0]
    assert payload["finding"] | {"first_seen": None, "last_seen": None} == {
        "id": finding.pk,
        "type": "modified",
        "rule": "",
        "severity": "high",
        "status": "open",
        "cluster": "prod-eu",
        "policy": "shop",
        "api_version": "apps/v1",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "paths": ["/spec/replicas"],
        "first_seen": None,
        "last_seen": None,
        "resolved_at": None,
        "occurrences": 1,
        "recurrence_of": None,
        "ticket_id": "",
        "ticket_url": "",
    }
    assert payload["links"] == {
        "ui": f"https://drift.example.com/findings/{finding.pk}/",
        "api": f"https://drift.example.com/api/v1/findings/{finding.pk}/",
    }
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.actor) == ("findings.recorded", "system:scanner")
    assert (audit.object_type, audit.object_id) == ("drift.scan", str(scan.pk))
    assert audit.data == {
        "policy": "shop",
        "cluster": "prod-eu",
        "opened": [finding.pk],
        "resolved": [],
        "severityChanged": [],
    }


def test_without_a_scan_the_audit_event_names_the_cluster_and_the_actor(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    ledger.record(policy, cluster, [seen()], everything, actor="system:watcher")

    audit = AuditEvent.objects.get()
    assert (audit.actor, audit.object_type, audit.object_id) == (
        "system:watcher",
        "drift.cluster",
        str(cluster.pk),
    )
    assert Finding.objects.get().last_scan_id is None


def test_the_same_object_on_another_cluster_or_with_another_type_is_another_finding(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    other = ClusterFactory(name="prod-us")

    ledger.record(policy, cluster, [seen(), seen(type="unmanaged")], everything)
    ledger.record(policy, other, [seen()], everything)

    assert sorted(Finding.objects.values_list("cluster__name", "type")) == [
        ("prod-eu", "modified"),
        ("prod-eu", "unmanaged"),
        ("prod-us", "modified"),
    ]


def test_a_nothing_to_report_record_writes_no_event(policy: DriftPolicy, cluster: Cluster) -> None:
    outcome = ledger.record(policy, cluster, [], everything)

    assert outcome.open_count == 0
    assert not AuditEvent.objects.exists()
    assert not OutboxEvent.objects.exists()


# --- updating ----------------------------------------------------------------------------


def test_it_updates_the_open_finding_in_place_when_seen_again(
    policy: DriftPolicy, cluster: Cluster, scans: Iterator[Scan]
) -> None:
    ledger.record(policy, cluster, [seen()], everything, scan=next(scans))
    first = Finding.objects.get()
    later = next(scans)

    outcome = ledger.record(
        policy, cluster, [seen(paths=("/spec/replicas", "/spec/template"))], everything, later
    )

    finding = Finding.objects.get()
    assert finding.pk == first.pk
    assert outcome.seen_again == [finding] and outcome.opened == []
    assert finding.first_seen == first.first_seen
    assert finding.last_seen > first.last_seen
    assert finding.last_scan_id == later.pk
    assert finding.diff == {"paths": ["/spec/replicas", "/spec/template"]}
    assert finding.occurrences == 1
    # Seen again at the same severity: nothing new to announce or audit.
    assert OutboxEvent.objects.count() == 1
    assert AuditEvent.objects.count() == 1


def test_a_severity_change_is_published_with_the_previous_severity(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    ledger.record(policy, cluster, [seen(severity="high")], everything)
    ledger.record(policy, cluster, [seen(severity="critical")], everything)
    outcome = ledger.record(policy, cluster, [seen(severity="low")], everything)

    finding = Finding.objects.get()
    assert finding.severity == "low"
    assert [(f.pk, before) for f, before in outcome.severity_changed] == [(finding.pk, "critical")]
    changes = events("finding.severity_changed")
    told = [(c["finding"]["severity"], c["previous_severity"], c["escalated"]) for c in changes]
    assert told == [
        ("critical", "high", True),
        ("low", "critical", False),
    ]
    assert changes[0]["finding"]["id"] == finding.pk
    audits = AuditEvent.objects.order_by("sequence")
    assert [a.data["severityChanged"] for a in audits] == [[], [finding.pk], [finding.pk]]


@pytest.mark.parametrize("status", [FindingStatus.ACKNOWLEDGED, FindingStatus.SUPPRESSED])
def test_an_acknowledged_or_suppressed_finding_keeps_its_status_when_seen_again(
    policy: DriftPolicy, cluster: Cluster, status: str
) -> None:
    ledger.record(policy, cluster, [seen()], everything)
    Finding.objects.update(status=status, status_reason="known, ticket OPS-1")

    outcome = ledger.record(policy, cluster, [seen(severity="critical")], everything)

    finding = Finding.objects.get()
    assert outcome.seen_again == [finding]
    assert (finding.status, finding.status_reason) == (status, "known, ticket OPS-1")
    assert finding.severity == "critical"


def test_a_drift_start_in_the_future_is_ignored(policy: DriftPolicy, cluster: Cluster) -> None:
    now = timezone.now()
    past = (now - timedelta(hours=2)).isoformat()
    future = (now + timedelta(hours=2)).isoformat()

    ledger.record(
        policy,
        cluster,
        [seen(WEB, drift_started_at=past), seen(API, drift_started_at=future)],
        everything,
    )

    started = dict(Finding.objects.values_list("name", "drift_started_at"))
    assert started["web"] == now - timedelta(hours=2)
    assert started["api"] is None


# --- resolving ---------------------------------------------------------------------------


def test_it_resolves_a_finding_when_the_object_is_clean_again(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    ledger.record(policy, cluster, [seen(WEB), seen(API)], everything)

    outcome = ledger.record(policy, cluster, [seen(WEB)], everything)

    api = Finding.objects.get(name="api")
    assert outcome.resolved == [api]
    assert (api.status, api.status_reason) == ("resolved", "no longer seen")
    assert api.resolved_at is not None
    assert Finding.objects.get(name="web").status == "open"
    resolved = events("finding.resolved")
    assert [(e["finding"]["id"], e["finding"]["status"]) for e in resolved] == [
        (api.pk, "resolved")
    ]
    assert resolved[0]["finding"]["resolved_at"] is not None
    assert AuditEvent.objects.order_by("-sequence").first().data["resolved"] == [api.pk]


def test_an_acknowledged_finding_is_resolved_too_when_the_object_is_clean(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    ledger.record(policy, cluster, [seen()], everything)
    Finding.objects.update(status=FindingStatus.ACKNOWLEDGED)

    ledger.record(policy, cluster, [], everything)

    assert Finding.objects.get().status == "resolved"


def test_it_leaves_findings_open_without_complete_evidence_about_their_object(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    ledger.record(policy, cluster, [seen(WEB), seen(SETTINGS)], everything)

    # Deployments could not be read (or their manifest did not parse): absence proves nothing.
    outcome = ledger.record(policy, cluster, [], lambda key: key.kind == "ConfigMap")

    assert [f.name for f in outcome.resolved] == ["settings"]
    assert dict(Finding.objects.values_list("name", "status")) == {
        "web": "open",
        "settings": "resolved",
    }
    ledger.record(policy, cluster, [], nothing)
    assert Finding.objects.get(name="web").status == "open"


def test_a_finding_that_comes_back_opens_a_new_row_counting_the_episodes(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    ledger.record(policy, cluster, [seen()], everything)
    ledger.record(policy, cluster, [], everything)
    first = Finding.objects.get()

    outcome = ledger.record(policy, cluster, [seen()], everything)

    second = outcome.opened[0]
    assert second.pk != first.pk
    assert second.occurrences == 2
    assert second.first_seen > first.first_seen
    first.refresh_from_db()
    assert first.status == "resolved"
    ledger.record(policy, cluster, [], everything)
    third = ledger.record(policy, cluster, [seen()], everything).opened[0]
    assert third.occurrences == 3
    assert [e["finding"]["occurrences"] for e in events("finding.opened")] == [1, 2, 3]
    assert Finding.objects.open().get() == third


def test_findings_of_another_policy_are_not_resolved(policy: DriftPolicy, cluster: Cluster) -> None:
    other = DriftPolicyFactory(name="platform")
    ledger.record(other, cluster, [seen(SETTINGS)], everything)

    outcome = ledger.record(policy, cluster, [seen(WEB)], everything)

    assert outcome.resolved == []
    assert Finding.objects.get(name="settings").status == "open"


def test_findings_on_another_cluster_are_not_resolved(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    other = ClusterFactory(name="prod-us")
    ledger.record(policy, other, [seen()], everything)

    ledger.record(policy, cluster, [], everything)

    assert Finding.objects.get(cluster=other).status == "open"


def test_a_resolve_scope_limits_resolution_to_the_named_objects(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    ledger.record(policy, cluster, [seen(WEB), seen(API), seen(SETTINGS)], everything)

    outcome = ledger.record(policy, cluster, [], everything, resolve_scope=[API])

    assert [f.name for f in outcome.resolved] == ["api"]
    assert dict(Finding.objects.values_list("name", "status")) == {
        "web": "open",
        "api": "resolved",
        "settings": "open",
    }


def test_a_resolve_scope_does_not_reach_objects_of_the_same_name_elsewhere(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    staging_web = ObjectKey("apps", "Deployment", "staging", "web")
    settings_deployment = ObjectKey("apps", "Deployment", "shop", "settings")
    ledger.record(
        policy, cluster, [seen(WEB), seen(staging_web), seen(settings_deployment)], everything
    )

    outcome = ledger.record(policy, cluster, [], everything, resolve_scope=[WEB, SETTINGS])

    assert [(f.namespace, f.kind, f.name) for f in outcome.resolved] == [
        ("shop", "Deployment", "web")
    ]
