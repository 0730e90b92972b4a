"""A query parameter an operation does not take is a 400 naming it, on every operation;
what an operation takes is exactly what the schema documents for it."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from rest_framework.test import APIClient, APIRequestFactory

from driftcontrol.api.filters import ALWAYS_ACCEPTED, accepted_query_parameters
from tests.factories import ClusterFactory, FindingFactory

pytestmark = pytest.mark.django_db


def unknown(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation-error"
    return {error["field"]: error["detail"] for error in body["errors"]}


def test_an_unknown_filter_is_400_naming_it_and_the_accepted_ones(client_for, viewer):
    FindingFactory()

    response = client_for(viewer).get("/api/v1/findings/", {"changed_since": "2025-01-01"})

    detail = unknown(response)["changed_since"]
    assert detail.startswith("unknown query parameter")
    for accepted in ("cluster", "cursor", "ordering", "page_size", "status"):
        assert accepted in detail


def test_every_unknown_parameter_is_named(client_for, viewer):
    response = client_for(viewer).get("/api/v1/findings/?colour=red&shape=round&status=open")

    assert set(unknown(response)) == {"colour", "shape"}


def test_the_documented_parameters_are_still_taken(client_for, viewer):
    FindingFactory(severity="high")
    client = client_for(viewer)
    query = {"status": "open", "min_severity": "high", "ordering": "-severity", "page_size": 5}

    assert client.get("/api/v1/findings/", {**query, "format": "json"}).status_code == 200
    assert client.get("/api/v1/trends/", {"days": 7, "page": 1, "page_size": 5}).status_code == 200
    assert client.get("/api/v1/summary/", {"scope": "fleet", "days": 7}).status_code == 200
    assert client.get("/api/v1/clusters/", {"ordering": "-name", "page": 1}).status_code == 200


def test_one_object_takes_no_list_filters(client_for, viewer):
    finding = FindingFactory()

    response = client_for(viewer).get(f"/api/v1/findings/{finding.pk}/", {"status": "open"})

    assert set(unknown(response)) == {"status"}


@pytest.mark.parametrize(
    "path", ["/api/v1/me/", "/api/v1/summary/", "/api/v1/trends/", "/api/v1/tokens/"]
)
def test_views_without_filters_refuse_them_too(client_for, admin_user, path):
    response = client_for(admin_user).get(path, {"updated_since": "x"})

    assert set(unknown(response)) == {"updated_since"}


def test_a_write_refuses_unknown_parameters(client_for, operator):
    cluster = ClusterFactory()

    response = client_for(operator).post(
        "/api/v1/scans/?dry_run=true", {"cluster": cluster.name}, format="json"
    )

    assert set(unknown(response)) == {"dry_run"}


def test_configuration_lists_are_checked_by_the_filter_backend(client_for, viewer):
    ClusterFactory(name="west")

    response = client_for(viewer).get("/api/v1/clusters/", {"label": "x"})

    assert set(unknown(response)) == {"label"}


def test_an_anonymous_caller_is_told_to_authenticate_first():
    response = APIClient().get("/api/v1/findings/", {"updated_since": "x"})

    assert response.status_code == 401


def operations():
    """(path, method, view as the schema generator builds it) for every operation."""
    generator = SchemaGenerator()
    factory = APIRequestFactory()
    for path, _, method, callback in EndpointEnumerator().get_api_endpoints():
        view = generator.create_view(callback, method)
        view.request = view.initialize_request(factory.generic(method, path))
        view.kwargs = {}
        yield path, method, view


def test_each_operation_takes_exactly_what_the_schema_documents():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = {re.sub(r"{\w+}", "{}", path): item for path, item in schema["paths"].items()}
    mismatched = {}
    for path, method, view in operations():
        if not path.startswith("/api/v1/"):
            continue  # the schema and its viewer, not operations
        operation = paths[re.sub(r"{\w+}", "{}", path)][method.lower()]
        documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        accepted = accepted_query_parameters(view) - ALWAYS_ACCEPTED
        if documented != accepted:
            mismatched[f"{method} {path}"] = (sorted(documented), sorted(accepted))
    assert mismatched == {}


@pytest.mark.parametrize(
    ("path", "action", "types"),
    [
        ("/api/v1/findings/{id}/acknowledge/", "acknowledge", ["invalid-transition"]),
        ("/api/v1/findings/{id}/reopen/", "reopen", ["invalid-transition"]),
        ("/api/v1/findings/{id}/suppress/", "suppress", ["invalid-transition"]),
    ],
)
def test_the_409_a_triage_action_answers_is_documented(client_for, operator, path, action, types):
    finding = FindingFactory(status="resolved", resolved_at=timezone.now())
    body = {"reason": "accepted", "days": 1} if action == "suppress" else {}

    response = client_for(operator).post(path.format(id=finding.pk), body, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["type"] in types
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = schema["paths"][path]["post"]["responses"]["409"]["content"]
    answer = documented["application/json"]["schema"]["allOf"][1]["properties"]["type"]
    assert list(answer["enum"]) == types


def test_a_decision_documents_each_409_type():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    for action in ("approve", "reject", "cancel"):
        path = f"/api/v1/remediations/{{id}}/{action}/"
        content = schema["paths"][path]["post"]["responses"]["409"]["content"]
        enum = content["application/json"]["schema"]["allOf"][1]["properties"]["type"]["enum"]
        assert set(enum) == {"already-decided", "invalid-transition", "idempotency-key-in-use"}
