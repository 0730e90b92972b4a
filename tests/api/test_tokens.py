"""API tokens: made once and shown once, stored as a hash, scoped, revocable, expiring."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from driftcontrol import tokens
from driftcontrol.exceptions import DomainError
from driftcontrol.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_token_is_stored_as_its_sha256_only(operator):
    token, raw = tokens.create(operator, "jira", "write")

    assert raw.startswith("dct_") and len(raw) == 4 + 43
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:12]
    assert raw not in str(ApiToken.objects.values().get())
    assert AuditEvent.objects.filter(action="token.created").count() == 1


def test_a_token_authenticates_and_records_when_it_was_used(operator):
    token, raw = tokens.create(operator, "jira", "write")

    response = bearer(raw).get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["username"] == "oscar"
    assert response.json()["token"]["scope"] == "write"
    assert "finding.triage" in response.json()["allowed"]
    assert "remediation.decide" not in response.json()["allowed"]
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer dct_not-a-real-token", "Bearer", "Bearer a b", "Bearer sometoken"],
)
def test_unknown_or_malformed_tokens_are_401_with_a_bearer_challenge(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/findings/")

    assert response.status_code == 401
    assert response.json()["type"] == "not-authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working_at_once(operator, client_for, admin_user):
    token, raw = tokens.create(operator, "jira", "write")
    assert bearer(raw).get("/api/v1/me/").status_code == 200

    assert client_for(admin_user).delete(f"/api/v1/tokens/{token.pk}/").status_code == 204

    assert bearer(raw).get("/api/v1/me/").status_code == 401


def test_an_expired_token_is_refused(operator):
    token, raw = tokens.create(operator, "jira", "read", lifetime=timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert bearer(raw).get("/api/v1/me/").status_code == 401


def test_a_deactivated_users_tokens_are_refused(operator):
    _, raw = tokens.create(operator, "jira", "read")
    operator.is_active = False
    operator.save()

    assert bearer(raw).get("/api/v1/me/").status_code == 401


def test_nobody_gets_a_token_wider_than_their_role(viewer, operator):
    with pytest.raises(DomainError, match="may have scope read"):
        tokens.create(viewer, "ci", "write")
    with pytest.raises(DomainError, match="read, write"):
        tokens.create(operator, "ci", "approve")


def test_the_api_makes_tokens_for_the_caller_only_and_shows_them_once(viewer):
    client = APIClient()
    client.force_login(viewer)

    created = client.post("/api/v1/tokens/", {"name": "laptop", "scope": "read"}, format="json")

    assert created.status_code == 201
    raw = created.json()["token"]
    assert bearer(raw).get("/api/v1/me/").json()["username"] == "vera"
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["laptop"] and "token" not in listed[0]
    too_wide = client.post("/api/v1/tokens/", {"name": "x", "scope": "approve"}, format="json")
    assert too_wide.status_code == 400


def test_a_read_token_cannot_mint_tokens(viewer):
    _, raw = tokens.create(viewer, "ci", "read")

    response = bearer(raw).post("/api/v1/tokens/", {"name": "more"}, format="json")

    assert response.status_code == 403
    assert "scope (read)" in response.json()["detail"]


def test_others_tokens_are_invisible_to_non_admins(viewer, operator):
    theirs, _ = tokens.create(operator, "jira", "write")
    client = APIClient()
    client.force_login(viewer)

    assert client.get(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404


def test_sessions_need_csrf_for_writes_and_tokens_do_not(operator):
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(operator)
    _, raw = tokens.create(operator, "jira", "write")

    refused = session.post("/api/v1/tokens/", {"name": "x"}, format="json")
    allowed = bearer(raw).post("/api/v1/scans/", {}, format="json")

    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert allowed.status_code == 400  # past authentication: the body is what is wrong


def test_the_command_line_creates_lists_and_revokes_tokens(operator):
    out = StringIO()
    call_command(
        "drift",
        "token",
        "create",
        "--user",
        "oscar",
        "--scope",
        "write",
        "--expires",
        "7d",
        stdout=out,
        stderr=StringIO(),
    )
    raw = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert bearer(raw).get("/api/v1/me/").status_code == 200
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)

    listing = StringIO()
    call_command("drift", "token", "list", stdout=listing)
    assert token.prefix in listing.getvalue() and raw not in listing.getvalue()

    call_command("drift", "token", "revoke", str(token.pk), stdout=StringIO())
    assert bearer(raw).get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize(("text", "days"), [("90d", 90), ("2w", 14), ("never", None)])
def test_lifetimes_read_like_people_write_them(text, days):
    lifetime = tokens.parse_lifetime(text)

    assert (lifetime.days if lifetime else None) == days


def test_a_bad_lifetime_is_refused():
    with pytest.raises(DomainError, match="90d, 12h, 2w"):
        tokens.parse_lifetime("soon")
