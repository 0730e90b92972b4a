import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from drift.engine.severity import LEVELS, at_most, rank
from drift.models import FindingStatus, Severity
from remediation.models import Approval, Decision, RemediationRequest
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db


def test_severity_choices_mirror_the_engine_levels():
    assert tuple(Severity.values) == LEVELS
    assert rank("critical") > rank("high") > rank("info")
    assert at_most("low", "medium") and not at_most("high", "medium")
    assert not at_most("info", "none")


def test_a_policy_reports_every_problem_with_its_path():
    policy = DriftPolicyFactory.build(
        source=DriftPolicyFactory().source,
        ignore_rules=[
            {"kinds": ["Deployment"], "paths": ["spec/replicas", "/ok/~2"]},
            {"colour": "red"},
        ],
        severity_rules=[{"kinds": ["ConfigMap"], "paths": ["/data/*"], "level": "urgent"}],
        approvals={"critical": 11, "severe": 1, "high": True},
        cluster_selector={"matchExpressions": [{"key": "region", "operator": "In"}]},
        namespaces={"include": "shop"},
    )

    with pytest.raises(ValidationError) as raised:
        policy.full_clean()

    errors = raised.value.message_dict
    assert errors["ignore_rules"] == [
        "ignore_rules[0].paths[0]: 'spec/replicas' is not a JSON pointer: it starts with '/', "
        "and '~' is written '~0' and '/' inside a key '~1' (use '*' for any list item or key)",
        "ignore_rules[0].paths[1]: '/ok/~2' is not a JSON pointer: it starts with '/', "
        "and '~' is written '~0' and '/' inside a key '~1' (use '*' for any list item or key)",
        "ignore_rules[1].colour: unknown field; expected groups, kinds, names, namespaces, paths",
        "ignore_rules[1]: matches everything; name kinds, names or paths",
    ]
    assert errors["severity_rules"] == [
        "severity_rules[0].level: must be one of info, low, medium, high, critical"
    ]
    assert sorted(errors["approvals"]) == [
        "approvals.critical: must be a whole number from 0 to 10",
        "approvals.high: must be a whole number from 0 to 10",
        "approvals.severe: unknown severity; use info, low, medium, high, critical",
    ]
    assert errors["cluster_selector"] == [
        "cluster_selector.matchExpressions[0].values: In needs at least one value"
    ]
    assert errors["namespaces"] == ["namespaces.include: must be a list of strings"]


def test_a_valid_policy_passes_and_defaults_to_two_approvers_for_critical():
    policy = DriftPolicyFactory(
        ignore_rules=[
            {
                "kinds": ["Deployment"],
                "paths": ["/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"],
            }
        ],
        severity_rules=[{"kinds": ["ConfigMap"], "paths": ["/data/*"], "level": "medium"}],
        cluster_selector={"matchLabels": {"region": "eu"}},
    )

    policy.full_clean()

    assert policy.interval_seconds == 120
    assert (policy.approvals_needed("critical"), policy.approvals_needed("info")) == (2, 0)


def test_names_follow_kubernetes_rules():
    with pytest.raises(ValidationError, match="use lowercase letters"):
        ClusterFactory.build(name="East_1").full_clean(exclude=["lanes"])


def test_one_open_finding_per_fingerprint_but_history_may_repeat():
    first = FindingFactory(name="web", status=FindingStatus.RESOLVED)
    FindingFactory(cluster=first.cluster, name="web")  # reopened: a new working-set row
    FindingFactory(cluster=first.cluster, name="web", status=FindingStatus.RESOLVED)

    with pytest.raises(IntegrityError), transaction.atomic():
        FindingFactory(cluster=first.cluster, name="web", status=FindingStatus.ACKNOWLEDGED)


def test_an_approver_decides_once_per_request(approver, requester):
    request = RemediationRequest.objects.create(
        cluster=ClusterFactory(), strategy="sync", severity="high", requested_by=requester
    )
    Approval.objects.create(request=request, approver=approver, decision=Decision.APPROVE)

    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(request=request, approver=approver, decision=Decision.REJECT)
