"""The OpenAPI schema describes the API as it behaves: Schemathesis generates requests
for every operation from the live schema (a few examples each, with an admin token) and
checks that nothing answers 5xx and every response conforms to the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from driftcontrol import tokens
from driftcontrol.models import ApiToken
from tests.api.world import build

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_requests_keep_the_test_connection():
    """Like Django's test client: a request's end must not close the test's connection
    (it holds the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(admin_user, requester, private_targets, wsgi_requests_keep_the_test_connection):
    build(requester)  # something to find: ids 1, 2... exist
    token, raw = tokens.create(admin_user, "schemathesis", "admin", actor="cli:test")
    return token, raw


# Loaded from the running application, as a client would load it.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.django_db
def test_every_operation_keeps_to_the_schema(case, admin_token):
    token, raw = admin_token
    # A generated DELETE /tokens/{id}/ may revoke the token in use: keep it usable.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)
    response = case.call(headers={"Authorization": f"Bearer {raw}"})
    case.validate_response(response, checks=CHECKS)


def test_the_schema_and_its_docs_are_served_by_the_app(client):
    schema_response = client.get("/api/schema/?format=json")
    docs = client.get("/api/docs/").content.decode()

    assert schema_response.json()["openapi"].startswith("3.")
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "https://" not in docs  # nothing from a CDN


def test_the_schema_documents_the_error_codes(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]

    approve = paths["/api/v1/remediations/{id}/approve/"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "422", "429"} <= set(approve["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in approve["parameters"])
    findings = paths["/api/v1/findings/"]["get"]
    assert {"200", "400", "401", "403", "429"} <= set(findings["responses"])
