"""What the schema promises beyond Schemathesis's checks: every operation described for
people, readable names, the error types as an enum, the headers and limits of each
request and answer; and the defects of issue 14 the schema showed (a 412 without the
current ETag, an HTML 400 under /api/, ids that took 1.5)."""

from __future__ import annotations

import inspect
import re

import pytest

from driftcontrol.api.bounds import MAX_ID
from driftcontrol.api.errors import PROBLEM_TYPES
from driftcontrol.api.schema import RATE_LIMIT_HEADERS, operations
from driftcontrol.api.views import CheckedQueryMixin
from tests.api.world import build

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def world(requester, private_targets):
    return build(requester)


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema)
        if not operation.get("summary", "").strip() or not operation.get("description", "").strip()
    ]

    assert missing == []


def test_no_operation_is_described_by_a_base_class(schema):
    mixin = inspect.cleandoc(CheckedQueryMixin.__doc__ or "")
    borrowed = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema)
        if operation.get("description", "").startswith(mixin[:40])
    ]

    assert borrowed == []


def test_no_component_name_repeats_a_word(schema):
    words = {name: re.findall(r"[A-Z][a-z0-9]*", name) for name in schema["components"]["schemas"]}
    doubled = [n for n, w in words.items() if any(a == b for a, b in zip(w, w[1:], strict=False))]

    assert doubled == []  # DocumentRequestRequest was one


def test_the_main_requests_have_examples(schema):
    paths = schema["paths"]
    wanted = [
        ("/api/v1/findings/{id}/acknowledge/", "post"),
        ("/api/v1/findings/{id}/ticket/", "post"),
        ("/api/v1/remediations/", "post"),
        ("/api/v1/remediations/{id}/approve/", "post"),
        ("/api/v1/tokens/", "post"),
        ("/api/v1/webhooks/", "post"),
        ("/api/v1/scans/", "post"),
    ]
    without = [
        f"{method.upper()} {path}"
        for path, method in wanted
        if not paths[path][method]["requestBody"]["content"]["application/json"].get("examples")
    ]

    assert without == []


def test_error_types_are_an_enum_of_those_the_server_gives(schema):
    problem = schema["components"]["schemas"]["Problem"]

    assert set(problem["properties"]["type"]["enum"]) == PROBLEM_TYPES
    assert {"validation-error", "precondition-failed", "idempotency-key-reused"} <= PROBLEM_TYPES


def test_every_operation_answers_400_and_every_answer_may_carry_the_rate_limit(schema):
    for path, method, operation in operations(schema):
        assert "400" in operation["responses"], f"{method} {path}"
        for code, response in operation["responses"].items():
            assert set(RATE_LIMIT_HEADERS) <= set(response["headers"]), f"{method} {path} {code}"
            if code == "429":
                assert response["headers"]["Retry-After"]["required"]


def test_the_api_says_how_to_authenticate_and_where_it_is_served(schema):
    assert schema["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    assert schema["servers"][0]["url"] == "/"


def test_ids_are_whole_numbers_the_database_can_hold(schema, client_for, viewer, world):
    finding = schema["paths"]["/api/v1/findings/{id}/"]["get"]
    id_schema = next(p["schema"] for p in finding["parameters"] if p["name"] == "id")

    assert id_schema["type"] == "integer"
    assert (id_schema["minimum"], id_schema["maximum"]) == (1, MAX_ID)
    response = client_for(viewer).get(f"/api/v1/findings/{world.finding.pk}.5/")
    assert response.status_code == 404 and response.json()["type"] == "not-found"


def test_the_request_headers_state_their_limits(schema):
    create = schema["paths"]["/api/v1/remediations/"]["post"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    replay = create["responses"]["201"]["headers"]

    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 200)
    assert "Idempotent-Replayed" in replay and "Location" in replay


def test_a_put_takes_its_name_from_the_url(schema):
    put = schema["paths"]["/api/v1/clusters/{name}/"]["put"]
    ref = put["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]

    assert put["requestBody"]["required"]
    assert set(body["required"]) == {"metadata", "spec"}
    assert "required" not in body["properties"]["metadata"]
    assert body["properties"]["kind"]["enum"] == ["Cluster"]


def test_empty_query_values_count_as_absent(schema, client_for, viewer, world):
    client = client_for(viewer)
    lanes = schema["paths"]["/api/v1/lanes/"]["get"]

    assert all(p["allowEmptyValue"] for p in lanes["parameters"])
    assert client.get("/api/v1/lanes/", {"page": "", "page_size": ""}).status_code == 200
    assert client.get("/api/v1/findings/", {"page_size": "", "cursor": ""}).status_code == 200


def test_configuration_lists_refuse_a_sort_key_they_do_not_have(client_for, viewer, world):
    client = client_for(viewer)

    assert client.get("/api/v1/clusters/", {"ordering": "-created_at,name"}).status_code == 200
    refused = client.get("/api/v1/clusters/", {"ordering": "name,secret"})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "ordering"


def test_a_disallowed_host_is_a_json_problem_under_api_and_a_page_elsewhere(client):
    api = client.get("/api/v1/findings/", HTTP_HOST="evil.example")
    page = client.get("/findings/", HTTP_HOST="evil.example")

    assert api.status_code == 400 and api["Content-Type"] == "application/json"
    assert api.json()["type"] == "invalid-request"
    assert page.status_code == 400 and "json" not in page["Content-Type"]
