"""Break-glass changes kept for review (alignment.admission.break_glass, through the
recorder): a lane.break-glass finding on the policy managing the object, an audit event
in the author's name and an admission.break_glass event. No scan resolves the finding;
a person does, once they reviewed the change (triage.resolve)."""

from __future__ import annotations

import pytest

from alignment.admission import events
from alignment.admission.recorder import Recorder, Verifications
from alignment.models import AdmissionDecision
from drift.engine.normalize import ObjectKey
from drift.models import Finding, FindingStatus
from drift.services import ledger, triage
from driftcontrol.exceptions import NotAllowed
from driftcontrol.models import AuditEvent, OutboxEvent
from tests.alignment.admission.test_admission_recorder import fresh, submit
from tests.alignment.admission.test_decide import (
    DEPLOYER,
    ON_CALL,
    REVISION,
    scale,
    set_image,
    uses_secret,
)
from tests.factories import (
    AlignmentFindingFactory,
    ClusterFactory,
    DriftPolicyFactory,
    LaneFactory,
    ManagedObjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

WEB = ObjectKey("apps", "Deployment", "shop", "web")


@pytest.fixture
def prod():
    controlled = LaneFactory(
        name="controlled",
        namespaces=["shop"],
        identities=[DEPLOYER],
        secrets=["shop-*"],
        admission={"mode": "deny", "breakGlassGroups": ["sre-oncall"]},
    )
    LaneFactory(name="fast", namespaces=["dev-*"], secrets=["fast-*"])
    cluster = ClusterFactory(name="prod")
    cluster.lanes.add(controlled)
    return cluster


@pytest.fixture
def older_policy(prod):
    """Targets prod and covers every namespace, but manages nothing there."""
    return DriftPolicyFactory(name="platform", cluster_names=["prod"])


@pytest.fixture
def shop_policy(prod, older_policy):
    policy = DriftPolicyFactory(name="shop", cluster_names=["prod"])
    ManagedObjectFactory(
        policy=policy,
        cluster=prod,
        revision=REVISION,
        path="apps/web/deployment.yaml:1",
    )
    return policy


@pytest.fixture
def recorder():
    found = Recorder("127.0.0.1:9443", heartbeat_seconds=60)
    found.verifications = Verifications(send=lambda *args: None)
    return found


def break_glass(recorder, prod, body=None) -> Finding:
    submit(recorder, prod, fresh(body or set_image(ON_CALL)))
    recorder.flush()
    return Finding.objects.get(rule="lane.break-glass")


def test_a_break_glass_change_is_a_finding_an_audit_event_and_an_event(
    recorder, prod, shop_policy
) -> None:
    finding = break_glass(recorder, prod)

    assert (finding.policy, finding.cluster, finding.type, finding.status) == (
        shop_policy,
        prod,
        "alignment",
        FindingStatus.OPEN,
    )
    assert (finding.api_group, finding.kind, finding.namespace, finding.name) == (
        "apps",
        "Deployment",
        "shop",
        "web",
    )
    assert (finding.severity, finding.source) == ("high", "apps/web/deployment.yaml:1")
    assert finding.diff["message"] == (
        "bob changed Deployment.apps shop/web in lane controlled through break-glass (group "
        "sre-oncall); the change is recorded for review: put it in Git or revert it. The "
        "change broke lane.deployer"
    )
    assert finding.diff["state"] == ledger.ADMITTED
    audit = AuditEvent.objects.get(action="admission.break_glass")
    assert (audit.actor, audit.object_id) == ("bob", str(finding.pk))
    assert audit.data["rules"] == ["lane.deployer"]
    assert audit.data["groups"] == ["sre-oncall", "system:authenticated"]
    event = OutboxEvent.objects.get(event_type=events.BREAK_GLASS)
    assert event.payload == events.payload(AdmissionDecision.objects.get())
    assert OutboxEvent.objects.filter(event_type="finding.opened").count() == 1


def test_a_second_break_glass_change_of_the_object_is_the_same_open_finding(
    recorder, prod, shop_policy
) -> None:
    first = break_glass(recorder, prod)

    again = break_glass(recorder, prod)

    assert again.pk == first.pk
    assert AuditEvent.objects.filter(action="admission.break_glass").count() == 2


def test_a_scan_leaves_a_break_glass_finding_open_and_a_person_resolves_it(
    recorder, prod, shop_policy
) -> None:
    finding = break_glass(recorder, prod)
    ordinary = AlignmentFindingFactory(cluster=prod, policy=shop_policy, name="api")

    # A complete scan of the policy that saw nothing wrong anywhere.
    outcome = ledger.record(shop_policy, prod, [], known=lambda key: True)

    assert [f.pk for f in outcome.resolved] == [ordinary.pk]
    assert Finding.objects.get(pk=finding.pk).status == FindingStatus.OPEN

    operator = UserFactory(username="olivia", role="operator")
    resolved = triage.resolve([finding.pk, ordinary.pk], operator, "put in Git as a3f9")

    assert [f.pk for f in resolved.changed] == [finding.pk]
    assert resolved.skipped[ordinary.pk] == "is resolved"
    reviewed = Finding.objects.get(pk=finding.pk)
    assert (reviewed.status, reviewed.status_reason) == (
        FindingStatus.RESOLVED,
        "put in Git as a3f9",
    )
    assert reviewed.resolved_at is not None
    assert AuditEvent.objects.filter(action="finding.resolved", actor="olivia").count() == 1
    assert OutboxEvent.objects.filter(event_type="finding.resolved").count() == 2


def test_only_findings_no_scan_can_resolve_are_resolved_by_hand(prod, shop_policy) -> None:
    drift = AlignmentFindingFactory(cluster=prod, policy=shop_policy)
    operator = UserFactory(username="olivia", role="operator")

    outcome = triage.resolve([drift.pk], operator)

    assert outcome.changed == []
    assert outcome.skipped[drift.pk] == "resolves by itself once a scan no longer finds it"
    with pytest.raises(NotAllowed):
        triage.resolve([drift.pk], UserFactory(username="vera", role="viewer"))


def test_a_change_to_what_git_does_not_manage_goes_to_the_oldest_policy_covering_it(
    recorder, prod, older_policy
) -> None:
    DriftPolicyFactory(name="later", cluster_names=["prod"])
    body = uses_secret(set_image(ON_CALL), "fast-db")  # another lane's Secret

    finding = break_glass(recorder, prod, body)

    assert (finding.policy, finding.source) == (older_policy, "")
    assert "The change broke lane.secret" in finding.diff["message"]


def test_a_policy_not_covering_the_namespace_gets_no_finding(recorder, prod, caplog) -> None:
    DriftPolicyFactory(cluster_names=["prod"], namespaces={"include": ["payments"]})
    submit(recorder, prod, fresh(uses_secret(set_image(ON_CALL), "fast-db")))

    recorder.flush()

    assert not Finding.objects.exists()
    assert AuditEvent.objects.get(action="admission.break_glass").object_id == str(prod.pk)
    assert OutboxEvent.objects.filter(event_type=events.BREAK_GLASS).count() == 1
    assert "no policy covers it, so no finding" in caplog.text


def test_the_policy_may_rank_break_glass_findings_otherwise(recorder, prod, shop_policy) -> None:
    shop_policy.severity_rules = [{"rules": ["lane.break-glass"], "level": "critical"}]
    shop_policy.save()

    assert break_glass(recorder, prod).severity == "critical"


def test_a_break_glass_scale_is_the_deployments_finding(recorder, prod, shop_policy) -> None:
    finding = break_glass(recorder, prod, scale(ON_CALL, 10))

    assert (finding.kind, finding.name) == ("Deployment", "web")
    row = AdmissionDecision.objects.get()
    assert (row.api_group, row.kind, row.subresource) == ("apps", "Deployment", "scale")
