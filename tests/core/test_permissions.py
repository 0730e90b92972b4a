"""One module decides who may do what; roles are cumulative; four-eyes on decisions."""

import pytest

from drift.models import Severity
from driftcontrol.exceptions import NotAllowed
from driftcontrol.permissions import Action, Role, check, may, role_of, set_role, why_not
from remediation.models import RemediationRequest
from tests.factories import ClusterFactory, UserFactory

pytestmark = pytest.mark.django_db

EXPECTED = {
    # action: the roles that may do it
    Action.VIEW: {"viewer", "operator", "approver", "admin"},
    Action.VIEW_AUDIT: {"viewer", "operator", "approver", "admin"},
    Action.MANAGE_OWN_TOKENS: {"viewer", "operator", "approver", "admin"},
    Action.RUN_SCAN: {"operator", "approver", "admin"},
    Action.TRIAGE_FINDING: {"operator", "approver", "admin"},
    Action.REQUEST_REMEDIATION: {"operator", "approver", "admin"},
    Action.CANCEL_REMEDIATION: {"operator", "approver", "admin"},
    Action.DECIDE_REMEDIATION: {"approver", "admin"},
    Action.UNPIN_OBJECT: {"approver", "admin"},
    Action.MANAGE_CONFIG: {"admin"},
    Action.MANAGE_USERS: {"admin"},
    Action.MANAGE_WEBHOOKS: {"admin"},
}


def test_every_action_has_an_expectation():
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("action", list(Action))
def test_role_matrix(action):
    users = {role: UserFactory(username=f"u-{role}", role=role) for role in Role.values}

    allowed = {role for role, user in users.items() if may(user, action)}

    assert allowed == EXPECTED[action]


def test_users_without_a_role_anonymous_and_deactivated_users_may_do_nothing(outsider, viewer):
    from django.contrib.auth.models import AnonymousUser

    viewer.is_active = False
    for user in (outsider, AnonymousUser(), viewer, None):
        assert not may(user, Action.VIEW)
    assert "signing in with a DriftControl role" in why_not(outsider, Action.VIEW)


def test_superusers_are_admins():
    root = UserFactory(username="root", is_superuser=True)

    assert role_of(root) is Role.ADMIN


def test_the_refusal_says_which_role_is_needed(viewer):
    with pytest.raises(
        NotAllowed, match="vera is a viewer; to request a remediation needs the operator role"
    ):
        check(viewer, Action.REQUEST_REMEDIATION)


def test_nobody_decides_on_their_own_request(requester, approver):
    set_role(requester, Role.APPROVER)
    request = RemediationRequest.objects.create(
        cluster=ClusterFactory(), strategy="sync", severity=Severity.HIGH, requested_by=requester
    )

    assert may(approver, Action.DECIDE_REMEDIATION, request)
    assert not may(requester, Action.DECIDE_REMEDIATION, request)
    with pytest.raises(NotAllowed, match="four-eyes"):
        check(requester, Action.DECIDE_REMEDIATION, request)


def test_only_the_requester_or_an_admin_cancels(requester, operator, admin_user):
    request = RemediationRequest.objects.create(
        cluster=ClusterFactory(), strategy="sync", severity=Severity.LOW, requested_by=requester
    )

    assert may(requester, Action.CANCEL_REMEDIATION, request)
    assert may(admin_user, Action.CANCEL_REMEDIATION, request)
    assert not may(operator, Action.CANCEL_REMEDIATION, request)


def test_set_role_replaces_the_previous_role_and_grants_the_admin_site(viewer):
    set_role(viewer, Role.ADMIN)
    viewer.refresh_from_db()
    assert (role_of(viewer), viewer.is_staff, viewer.is_superuser) == (Role.ADMIN, True, True)

    set_role(viewer, Role.OPERATOR)
    viewer.refresh_from_db()
    assert (role_of(viewer), viewer.is_staff) == (Role.OPERATOR, False)
    assert list(viewer.groups.values_list("name", flat=True)) == ["operator"]


def test_the_role_groups_exist_after_migrating():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)
