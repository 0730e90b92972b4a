"""The API's door to `driftcontrol.permissions`: every call is decided there, narrowed by
the scope of the token it came with (a token never carries more than its user's role).

Views name the domain action each of their actions needs in ``permission_actions``;
reads default to Action.VIEW, and a write that names none fails loudly instead of
slipping through.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from driftcontrol import permissions, tokens
from driftcontrol.models import ApiToken
from driftcontrol.permissions import Action


def why_not(request: Request, action: Action | str, obj: Any = None) -> str | None:
    """None when this call may do ``action`` (to ``obj``), otherwise the reason."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    if token is not None:
        reason = tokens.scope_why_not(token.scope, action)
        if reason is not None:
            return reason
    return permissions.why_not(request.user, action, obj)


def may(request: Request, action: Action | str, obj: Any = None) -> bool:
    return why_not(request, action, obj) is None


def required_action(view: Any, request: Request) -> Action:
    actions: dict[str, Action] = getattr(view, "permission_actions", {})
    method = (request.method or "").lower()
    # OPTIONS asks, per method, what that method would need: DRF swaps request.method.
    name = getattr(view, "action_map", {}).get(method) or getattr(view, "action", None) or method
    if name in actions:
        return actions[name]
    handled = method in getattr(view, "action_map", {}) or (
        not hasattr(view, "action_map") and hasattr(view, method)
    )
    if request.method in SAFE_METHODS or not handled:
        return Action.VIEW  # a method nobody handles gets its 405 after this check
    raise ImproperlyConfigured(
        f"{type(view).__name__}.{name} names no Action in permission_actions"
    )


class DomainPermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return self._decide(request, why_not(request, required_action(view, request)))

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return self._decide(request, why_not(request, required_action(view, request), obj))

    def _decide(self, request: Request, reason: str | None) -> bool:
        if reason is None:
            return True
        self.message = reason  # DRF puts it in the 403's detail
        return False
