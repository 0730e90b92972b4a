"""Who may call what: every /api/v1/ route, every role, from ONE table.

The table names each (route, method) with the least role that may call it and the least
token scope. A route added without an entry fails `test_every_route_has_an_entry`, so
no endpoint ships without a decision about who may use it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.api.conftest import token_for
from tests.api.world import World, build
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

V, OP, A, AD = "viewer", "operator", "approver", "admin"
R, W, AP, ADM = "read", "write", "approve", "admin"

# (route name, method): (least role, least token scope)
TABLE: dict[tuple[str, str], tuple[str, str]] = {
    ("me", "GET"): (V, R),
    ("token-list", "GET"): (V, ADM),  # tokens are managed by people, or admin-scope tokens
    ("token-list", "POST"): (V, ADM),
    ("token-detail", "GET"): (V, ADM),
    ("token-detail", "DELETE"): (V, ADM),
    ("webhook-list", "GET"): (AD, ADM),
    ("webhook-list", "POST"): (AD, ADM),
    ("webhook-detail", "GET"): (AD, ADM),
    ("webhook-detail", "PUT"): (AD, ADM),
    ("webhook-detail", "PATCH"): (AD, ADM),
    ("webhook-detail", "DELETE"): (AD, ADM),
    ("webhook-delivery-list", "GET"): (AD, ADM),
    ("webhook-delivery-detail", "GET"): (AD, ADM),
    ("webhook-delivery-redeliver", "POST"): (AD, ADM),
    ("webhook-ping", "POST"): (AD, ADM),
    ("webhook-rotate", "POST"): (AD, ADM),
    ("webhook-event-list", "GET"): (V, R),
    ("webhook-event-detail", "GET"): (V, R),
    ("audit-event-list", "GET"): (V, R),
    ("audit-event-detail", "GET"): (V, R),
    ("summary", "GET"): (V, R),
    ("trends", "GET"): (V, R),
    ("lane-list", "GET"): (V, R),
    ("lane-list", "POST"): (AD, ADM),
    ("lane-detail", "GET"): (V, R),
    ("lane-detail", "PUT"): (AD, ADM),
    ("lane-detail", "PATCH"): (AD, ADM),
    ("cluster-list", "GET"): (V, R),
    ("cluster-list", "POST"): (AD, ADM),
    ("cluster-detail", "GET"): (V, R),
    ("cluster-detail", "PUT"): (AD, ADM),
    ("cluster-detail", "PATCH"): (AD, ADM),
    ("source-list", "GET"): (V, R),
    ("source-list", "POST"): (AD, ADM),
    ("source-detail", "GET"): (V, R),
    ("source-detail", "PUT"): (AD, ADM),
    ("source-detail", "PATCH"): (AD, ADM),
    ("policy-list", "GET"): (V, R),
    ("policy-list", "POST"): (AD, ADM),
    ("policy-detail", "GET"): (V, R),
    ("policy-detail", "PUT"): (AD, ADM),
    ("policy-detail", "PATCH"): (AD, ADM),
    ("scan-list", "GET"): (V, R),
    ("scan-list", "POST"): (OP, W),
    ("scan-detail", "GET"): (V, R),
    ("finding-list", "GET"): (V, R),
    ("finding-detail", "GET"): (V, R),
    ("finding-acknowledge", "POST"): (OP, W),
    ("finding-suppress", "POST"): (OP, W),
    ("finding-reopen", "POST"): (OP, W),
    ("finding-resolve", "POST"): (OP, W),
    ("finding-ticket", "POST"): (OP, W),
    ("finding-ticket", "DELETE"): (OP, W),
    ("finding-bulk-acknowledge", "POST"): (OP, W),
    ("finding-bulk-suppress", "POST"): (OP, W),
    ("finding-bulk-ticket", "POST"): (OP, W),
    ("remediation-list", "GET"): (V, R),
    ("remediation-list", "POST"): (OP, W),
    ("remediation-detail", "GET"): (V, R),
    ("remediation-approve", "POST"): (A, AP),
    ("remediation-reject", "POST"): (A, AP),
    # Someone else's request: only an admin cancels it (its requester may too, see below).
    ("remediation-cancel", "POST"): (AD, W),
    ("approval-list", "GET"): (V, R),
    ("approval-detail", "GET"): (V, R),
    ("alignment-rule-list", "GET"): (V, R),
    ("alignment-rule-detail", "GET"): (V, R),
    ("image-list", "GET"): (V, R),
    ("admission-decision-list", "GET"): (V, R),
    ("admission-decision-detail", "GET"): (V, R),
    ("admission-summary", "GET"): (V, R),
}

ROLES = [V, OP, A, AD]
SCOPES = [R, W, AP, ADM]


def api_routes() -> set[tuple[str, str]]:
    """(name, method) of every route under /api/v1/, read from the URL resolver."""
    found: set[tuple[str, str]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and prefix.startswith("api/v1/"):
                callback = pattern.callback
                actions = getattr(callback, "actions", None)
                if actions:
                    # DRF adds `head` to a viewset's shared actions on its first GET.
                    methods = {m.upper() for m in actions if m != "head"}
                else:
                    view = callback.view_class  # type: ignore[attr-defined]
                    methods = {
                        m.upper()
                        for m in view.http_method_names
                        if hasattr(view, m) and m not in ("options", "head")
                    }
                found.update((str(pattern.name), m) for m in methods)

    walk(get_resolver().url_patterns, "")
    return found


def test_every_route_has_an_entry():
    routes = api_routes()

    assert routes - set(TABLE) == set(), "new API routes need a row in TABLE"
    assert set(TABLE) - routes == set(), "TABLE names routes that do not exist"


def url_of(name: str, world: World) -> str:
    base = name.rsplit("-", 1)[0] if name.endswith(("-detail", "-list")) else name
    keys: dict[str, dict[str, Any]] = {
        "token": {"pk": world.token.pk},
        "webhook": {"pk": world.subscription.pk},
        "webhook-delivery": {"pk": world.delivery.pk},
        "webhook-event": {"type": "finding.opened"},
        "audit-event": {"sequence": world.audit_event.sequence},
        "lane": {"name": world.lane.name},
        "cluster": {"name": world.cluster.name},
        "source": {"name": world.source.name},
        "policy": {"name": world.policy.name},
        "scan": {"pk": world.scan.pk},
        "finding": {"pk": world.finding.pk},
        "remediation": {"pk": world.request.pk},
        "approval": {"pk": world.approval.pk},
        "alignment-rule": {"rule_id": "lane.secret"},
        "admission-decision": {"pk": world.admission_decision.pk},
    }
    plain = ("me", "summary", "trends", "admission-summary")
    if name.endswith("-list") or name in plain or "-bulk-" in name:
        return reverse(f"api:{name}")
    resource = base if base in keys else name.rsplit("-", 1)[0]
    return reverse(f"api:{name}", kwargs=keys[resource])


def body_of(name: str, method: str, world: World) -> dict[str, Any]:
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("token-list", "POST"): {"name": "ci", "scope": "read"},
        ("webhook-list", "POST"): {
            "name": "other",
            "url": "http://127.0.0.1:9/other",
            "event_types": ["scan.failed"],
        },
        ("webhook-detail", "PUT"): {
            "name": "tickets",
            "url": "http://127.0.0.1:9/hooks",
            "event_types": ["*"],
        },
        ("webhook-detail", "PATCH"): {"active": False},
        ("lane-list", "POST"): {"metadata": {"name": "slow"}, "spec": {}},
        ("lane-detail", "PUT"): {"spec": {"description": "the fast lane"}},
        ("lane-detail", "PATCH"): {"spec": {"branches": ["main"]}},
        ("source-list", "POST"): {"metadata": {"name": "more"}, "spec": {"url": "/srv/git"}},
        ("source-detail", "PUT"): {"spec": {"url": "/srv/git/shop.git"}},
        ("source-detail", "PATCH"): {"spec": {"ref": "release"}},
        ("policy-detail", "PATCH"): {"spec": {"interval": "5m"}},
        ("scan-list", "POST"): {"policy": "shop", "cluster": "east"},
        ("finding-suppress", "POST"): {"reason": "known", "days": 3},
        ("finding-ticket", "POST"): {"ticket_id": "OPS-1"},
        ("finding-bulk-acknowledge", "POST"): {"ids": [world.finding.pk]},
        ("finding-bulk-suppress", "POST"): {"ids": [world.finding.pk], "reason": "k", "days": 3},
        ("finding-bulk-ticket", "POST"): {"ids": [world.finding.pk], "ticket_id": "OPS-1"},
        ("remediation-list", "POST"): {"findings": [world.finding.pk], "strategy": "alert"},
        ("remediation-reject", "POST"): {"comment": "not now"},
    }
    return bodies.get((name, method), {})


def call(client: APIClient, name: str, method: str, world: World) -> int:
    url = url_of(name, world)
    response = client.generic(
        method, url, data=_json(body_of(name, method, world)), content_type="application/json"
    )
    return response.status_code


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body)


@pytest.fixture
def world(requester: Any, private_targets: None) -> World:
    return build(requester)


def _verdict(status: int) -> str:
    return {401: "unauthenticated", 403: "forbidden"}.get(status, "allowed")


@pytest.mark.parametrize(("route", "method"), sorted(TABLE))
def test_roles(route, method, world, outsider, viewer, operator, approver, admin_user):
    least_role = TABLE[route, method][0]
    users = {V: viewer, OP: operator, A: approver, AD: admin_user}
    anonymous = APIClient()
    assert _verdict(call(anonymous, route, method, world)) == "unauthenticated"
    signed_in_without_role = APIClient()
    signed_in_without_role.force_login(outsider)
    assert _verdict(call(signed_in_without_role, route, method, world)) == "forbidden"
    # Weakest first: a lower role must not change anything the next one is asked about.
    for role in ROLES:
        client = APIClient()
        client.force_login(users[role])
        expected = "allowed" if ROLES.index(role) >= ROLES.index(least_role) else "forbidden"
        status = call(client, route, method, world)
        assert (role, _verdict(status)) == (role, expected), status


@pytest.mark.parametrize(("route", "method"), sorted(TABLE))
def test_token_scopes(route, method, world, admin_user):
    least_scope = TABLE[route, method][1]
    for scope in SCOPES:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(admin_user, scope)}")
        expected = "allowed" if SCOPES.index(scope) >= SCOPES.index(least_scope) else "forbidden"
        status = call(client, route, method, world)
        assert (scope, _verdict(status)) == (scope, expected), status


def test_a_token_never_carries_more_than_its_users_role(world):
    viewer_with_old_token = UserFactory(username="olga", role="approver")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(viewer_with_old_token, 'approve')}")
    from driftcontrol.permissions import set_role

    set_role(viewer_with_old_token, "viewer")  # demoted after the token was made

    assert call(client, "finding-acknowledge", "POST", world) == 403
    assert call(client, "finding-list", "GET", world) == 200


def test_the_requester_cancels_their_own_request(world, requester):
    client = APIClient()
    client.force_login(requester)

    assert call(client, "remediation-cancel", "POST", world) == 200


def test_four_eyes_holds_in_the_api(world, requester):
    requester_as_approver = requester
    from driftcontrol.permissions import set_role

    set_role(requester_as_approver, "approver")
    client = APIClient()
    client.force_login(requester_as_approver)

    response = client.post(url_of("remediation-approve", world), {}, format="json")

    assert response.status_code == 403
    assert "four-eyes" in response.json()["detail"]
