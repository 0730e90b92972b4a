"""Who may see and do what in the dashboard: every page needs a sign-in and a role, viewers
see no action buttons, and forged actions are refused whatever the page showed."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from drift.models import Finding, Scan
from remediation.models import RemediationRequest
from tests.factories import ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_finding: Any, make_request: Any, requester: Any, east: Any, shop: Any) -> dict:
    finding = make_finding(name="web")
    return {
        "finding": finding,
        "request": make_request([finding], requester),
        "scan": ScanFactory(policy=shop, cluster=east, status="running"),
    }


PAGES = {
    "overview": lambda w: reverse("home"),
    "findings": lambda w: reverse("findings"),
    "finding": lambda w: reverse("finding", args=[w["finding"].pk]),
    "approvals": lambda w: reverse("approvals"),
    "remediations": lambda w: reverse("remediations"),
    "remediation": lambda w: reverse("remediation", args=[w["request"].pk]),
    "remediation-status": lambda w: (
        reverse("remediation-status", args=[w["request"].pk]) + "?seen=pending"
    ),
    "scans": lambda w: reverse("scans"),
    "scan": lambda w: reverse("scan", args=[w["scan"].pk]),
    "scan-progress": lambda w: reverse("scan-progress", args=[w["scan"].pk]),
    "clusters": lambda w: reverse("clusters"),
    "cluster": lambda w: reverse("cluster", args=["east"]),
    "lanes": lambda w: reverse("lanes"),
    "policies": lambda w: reverse("policies"),
    "policy": lambda w: reverse("policy", args=["shop"]),
    "policy-preview": lambda w: reverse("policy-preview", args=["shop"]) + "?up_to=high&days=30",
    "trends": lambda w: reverse("trends"),
    "tokens": lambda w: reverse("tokens"),
}


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_people_are_sent_to_sign_in(client: Any, world: dict, page: str) -> None:
    url = PAGES[page](world)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("page", PAGES)
def test_people_without_a_role_are_refused_with_the_reason(
    client: Any, outsider: Any, world: dict, page: str
) -> None:
    client.force_login(outsider)

    response = client.get(PAGES[page](world))

    assert response.status_code == 403
    assert b"signing in with a DriftControl role is needed" in response.content


@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin_user"])
@pytest.mark.parametrize("page", PAGES)
def test_every_role_sees_every_page(
    client: Any, request: Any, world: dict, role: str, page: str
) -> None:
    client.force_login(request.getfixturevalue(role))

    response = client.get(PAGES[page](world))

    assert response.status_code == 200
    assert b"Traceback" not in response.content


ACTION_MARKERS = [
    b'name="action" value="acknowledge"',
    b'name="action" value="suppress"',
    b'name="action" value="reopen"',
    b'name="action" value="remediate"',
    b'name="finding" value=',
    b"Link ticket",
    b"Approve request",
    b"Reject request",
    b"Cancel request",
    b"Scan now",
    b"now</button>",
]


@pytest.mark.parametrize(
    "page", ["findings", "finding", "approvals", "remediation", "scans", "cluster", "policy"]
)
def test_a_viewer_sees_no_action_buttons(client: Any, viewer: Any, world: dict, page: str) -> None:
    client.force_login(viewer)

    content = client.get(PAGES[page](world)).content

    assert [marker for marker in ACTION_MARKERS if marker in content] == []


def test_an_operator_sees_triage_and_remediation_but_no_decisions(
    client: Any, operator: Any, world: dict
) -> None:
    client.force_login(operator)

    finding_page = client.get(PAGES["finding"](world)).content
    queue = client.get(PAGES["approvals"](world)).content
    scans = client.get(PAGES["scans"](world)).content

    assert b'name="action" value="acknowledge"' in finding_page
    assert b"Link ticket" in finding_page
    assert b"Approve request" not in queue
    assert b"Scan now" in scans


def _forged(world: dict) -> list[tuple[str, dict]]:
    finding, request = world["finding"], world["request"]
    return [
        (reverse("finding-actions"), {"action": "acknowledge", "finding": [finding.pk]}),
        (
            reverse("finding-actions"),
            {"action": "suppress", "finding": [finding.pk], "reason": "x", "until": "2099-01-01"},
        ),
        (reverse("finding-actions"), {"action": "reopen", "finding": [finding.pk]}),
        (
            reverse("finding-actions"),
            {"action": "remediate", "finding": [finding.pk], "strategy": "alert"},
        ),
        (reverse("finding-ticket", args=[finding.pk]), {"ticket_id": "OPS-1"}),
        (reverse("scan-request"), {"pair": "shop/east"}),
        (reverse("remediation-approve", args=[request.pk]), {"comment": "ok"}),
        (reverse("remediation-reject", args=[request.pk]), {"comment": ""}),
        (reverse("remediation-cancel", args=[request.pk]), {}),
    ]


@pytest.mark.parametrize("index", range(9))
@pytest.mark.parametrize("role", ["viewer", "outsider"])
def test_a_forged_post_without_the_role_is_refused_and_changes_nothing(
    client: Any, request: Any, world: dict, role: str, index: int
) -> None:
    client.force_login(request.getfixturevalue(role))
    url, data = _forged(world)[index]
    scans_before = Scan.objects.count()

    response = client.post(url, data)

    assert response.status_code == 403
    assert Finding.objects.get(pk=world["finding"].pk).status == "open"
    assert Finding.objects.get(pk=world["finding"].pk).ticket_id == ""
    assert RemediationRequest.objects.get(pk=world["request"].pk).status == "pending"
    assert RemediationRequest.objects.count() == 1
    assert Scan.objects.count() == scans_before


@pytest.mark.parametrize("index", range(9))
def test_an_anonymous_post_goes_to_sign_in(client: Any, world: dict, index: int) -> None:
    url, data = _forged(world)[index]

    response = client.post(url, data)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_actions_only_accept_posts(client: Any, operator: Any, world: dict) -> None:
    client.force_login(operator)

    assert client.get(reverse("finding-actions")).status_code == 405
    assert client.get(reverse("scan-request")).status_code == 405


def test_unknown_objects_get_the_friendly_404(client: Any, viewer: Any, world: dict) -> None:
    client.force_login(viewer)

    for url in (
        reverse("finding", args=[999999]),
        reverse("remediation", args=[999999]),
        reverse("scan", args=[999999]),
        reverse("cluster", args=["nowhere"]),
        reverse("policy", args=["nothing"]),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert b"There is nothing at this address" in response.content


def test_the_overview_is_at_the_root_and_the_nav_marks_it(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    response = client.get("/")

    assert response.status_code == 200
    assert b"<h1>Overview</h1>" in response.content
    assert b'href="/" aria-current="page">Overview' in response.content


def test_a_fragment_polled_after_sign_out_sends_the_page_to_sign_in(
    client: Any, world: dict
) -> None:
    response = client.get(
        PAGES["scan-progress"](world),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/scans/?status=running",
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=%2Fscans%2F%3Fstatus%3Drunning"
