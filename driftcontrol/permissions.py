"""Who may do what: the one place that answers it, for the UI, the API and the CLI alike.

Roles are cumulative (an approver can do everything an operator can). A user's role is
the highest of the role groups they belong to; superusers are admins. Object rules sit
on top of roles: nobody decides on their own remediation request (four-eyes).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import Group
from django.db import models

from driftcontrol.exceptions import NotAllowed


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Admin"


RANK = {role: rank for rank, role in enumerate(Role)}


class Action(models.TextChoices):
    VIEW = "view", "view the dashboard, findings, scans and reports"
    VIEW_AUDIT = "audit.view", "read the audit trail"
    RUN_SCAN = "scan.run", "start a scan"
    TRIAGE_FINDING = "finding.triage", "acknowledge, suppress or link a finding"
    REQUEST_REMEDIATION = "remediation.request", "request a remediation"
    CANCEL_REMEDIATION = "remediation.cancel", "cancel a remediation request"
    DECIDE_REMEDIATION = "remediation.decide", "approve or reject a remediation"
    UNPIN_OBJECT = "object.unpin", "let auto-remediation touch a pinned object again"
    MANAGE_OWN_TOKENS = "tokens.manage", "create and revoke one's own API tokens"
    MANAGE_CONFIG = "config.manage", "change clusters, lanes, Git sources and policies"
    MANAGE_USERS = "users.manage", "add users and change their roles"
    MANAGE_WEBHOOKS = "webhooks.manage", "manage webhook subscriptions"


MINIMUM_ROLE: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.VIEW_AUDIT: Role.VIEWER,
    Action.MANAGE_OWN_TOKENS: Role.VIEWER,
    Action.RUN_SCAN: Role.OPERATOR,
    Action.TRIAGE_FINDING: Role.OPERATOR,
    Action.REQUEST_REMEDIATION: Role.OPERATOR,
    Action.CANCEL_REMEDIATION: Role.OPERATOR,
    Action.DECIDE_REMEDIATION: Role.APPROVER,
    Action.UNPIN_OBJECT: Role.APPROVER,
    Action.MANAGE_CONFIG: Role.ADMIN,
    Action.MANAGE_USERS: Role.ADMIN,
    Action.MANAGE_WEBHOOKS: Role.ADMIN,
}

# Anything with Django's user interface: a User, an AnonymousUser, or None. Typed loosely
# because the auth model is pluggable and role data lives on the concrete model.
User = Any


def role_of(user: User) -> Role | None:
    """The user's effective role, or None for anonymous and deactivated users."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, "_driftcontrol_role", False)
    if cached is not False:
        return cast(Role | None, cached)
    role: Role | None
    if getattr(user, "is_superuser", False):
        role = Role.ADMIN
    else:
        names = {group.name for group in user.groups.all()}
        held = [r for r in Role if r.value in names]
        role = max(held, key=RANK.__getitem__) if held else None
    user._driftcontrol_role = role  # one groups query per request, not one per check
    return role


def why_not(user: User, action: Action | str, obj: Any = None) -> str | None:
    """None when the user may do ``action`` (to ``obj``); otherwise the reason they may not."""
    action = Action(action)
    role = role_of(user)
    needed = MINIMUM_ROLE[action]
    if role is None:
        return f"signing in with a DriftControl role is needed to {action.label}"
    if RANK[role] < RANK[needed]:
        return (
            f"{user.get_username()} is a {role.label.lower()}; to {action.label} "
            f"needs the {needed.label.lower()} role"
        )
    return _object_rule(user, role, action, obj)


def _object_rule(user: Any, role: Role, action: Action, obj: Any) -> str | None:
    requester_id = getattr(obj, "requested_by_id", None)
    if action is Action.DECIDE_REMEDIATION and requester_id is not None and requester_id == user.pk:
        return "nobody approves or rejects their own request (four-eyes rule)"
    if (
        action is Action.CANCEL_REMEDIATION
        and obj is not None
        and role is not Role.ADMIN
        and requester_id != user.pk
    ):
        return "only the requester or an admin may cancel a request"
    return None


def may(user: User, action: Action | str, obj: Any = None) -> bool:
    return why_not(user, action, obj) is None


def check(user: User, action: Action | str, obj: Any = None) -> None:
    """Raise NotAllowed, with the reason, unless the user may do ``action``."""
    reason = why_not(user, action, obj)
    if reason is not None:
        raise NotAllowed(reason)


def set_role(user: User, role: Role | str) -> None:
    """Put the user in exactly one role group; admins also get the Django admin site."""
    role = Role(role)
    user.groups.remove(*Group.objects.filter(name__in=Role.values))
    # A migration creates the groups; get_or_create keeps roles working if one was deleted.
    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.add(group)
    is_admin = role is Role.ADMIN
    user.is_staff = user.is_superuser = is_admin
    user.save(update_fields=["is_staff", "is_superuser"])
    user.__dict__.pop("_driftcontrol_role", None)  # the role changed: forget the cached one


class Can:
    """Template helper: ``{% if can.run_scan %}`` asks `may` for the current user."""

    def __init__(self, user: User) -> None:
        self._user = user

    def __getitem__(self, name: str) -> bool:
        return may(self._user, Action[name.upper()])

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]
