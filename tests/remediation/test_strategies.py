"""The strategy registry, and what planning asks of each strategy (no cluster needed)."""

import pytest

from drift.models import RemediationStrategy
from driftcontrol.exceptions import DomainError
from remediation import services
from remediation.models import RemediationRequest, RequestStatus, StepAction
from remediation.services import strategies
from remediation.services.strategies.alert import Alert
from remediation.services.strategies.rollback import Rollback
from remediation.services.strategies.sync import Sync
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finding():
    """An open finding on a cluster without credentials: nothing can reach it."""
    return FindingFactory(cluster=ClusterFactory(), policy=DriftPolicyFactory())


def test_every_strategy_a_request_can_name_is_registered():
    assert set(strategies.REGISTRY) == set(RemediationStrategy.values)
    assert {
        name: type(strategies.for_request(RemediationRequest(strategy=name)))
        for name in RemediationStrategy.values
    } == {"sync": Sync, "rollback": Rollback, "alert": Alert}


def test_the_registry_refuses_an_unknown_strategy():
    with pytest.raises(DomainError, match="unknown strategy 'scale'; use sync, rollback or alert"):
        strategies.get("scale")


def test_a_request_with_an_unknown_strategy_is_refused_and_nothing_stored(finding, requester):
    with pytest.raises(DomainError, match="unknown strategy 'scale'"):
        services.request_remediation([finding], "scale", requester)
    assert not RemediationRequest.objects.exists()


def test_an_alert_needs_no_approval_and_never_reaches_the_cluster(finding, requester, tasks):
    queued = tasks.queued("remediation.execute")

    request = services.request_remediation([finding], "alert", requester)

    assert (request.status, request.approvals_required) == (RequestStatus.APPROVED, 0)
    assert [s.action for s in request.steps.all()] == [StepAction.NOTIFY]
    assert request.plan == {"revision": "", "objects": 1, "changes": 0, "takeovers": 0}
    assert queued == []  # queued once the transaction commits, not before


def test_a_sync_is_planned_against_the_cluster(finding, requester):
    # The factory's cluster has no credentials: planning tries to connect, and says so.
    with pytest.raises(services.PlanError, match="cannot read cluster .* to plan: .*credentials"):
        services.request_remediation([finding], "sync", requester)
    assert not RemediationRequest.objects.exists()
