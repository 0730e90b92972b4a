"""Every request bounded: the attacks of issue 12 on the API answer 4xx in the API's error
shape, never 500 (an id beyond bigint, JSON nested 100,000 deep, a 6 MB body, a 1 MB
reason, query values the API cannot use)."""

from __future__ import annotations

import base64
import json

import pytest

from driftcontrol.api.bounds import MAX_ID, MAX_TEXT
from driftcontrol.api.parsers import MAX_DEPTH, depth_exceeds
from tests.api.world import build
from tests.factories import ScanFactory

pytestmark = pytest.mark.django_db

HUGE = 10**22  # 23 digits: beyond PostgreSQL's bigint


@pytest.fixture
def world(requester, private_targets):
    return build(requester)


def refused(response, status: int = 400) -> dict:
    """The body, after checking it is the API's error shape with ``status``."""
    body = response.json()
    assert response.status_code == status, body
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def fields_of(response) -> list[str]:
    return [e["field"] for e in refused(response)["errors"]]


def post_raw(client, path: str, body: str):
    return client.post(path, data=body, content_type="application/json")


# --- ids and numbers --------------------------------------------------------------------


def test_a_finding_id_beyond_bigint_is_400_naming_it(client_for, operator, world):
    response = client_for(operator).post(
        "/api/v1/remediations/", {"findings": [HUGE], "strategy": "sync"}, format="json"
    )

    assert fields_of(response) == ["findings[0]"]


def test_an_undo_id_beyond_bigint_is_400_naming_it(client_for, operator, world):
    response = client_for(operator).post(
        "/api/v1/remediations/",
        {"findings": [world.finding.pk], "strategy": "rollback", "undo": HUGE},
        format="json",
    )

    assert fields_of(response) == ["undo"]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/approvals/", "request"),
        ("/api/v1/webhook-deliveries/", "subscription"),
        ("/api/v1/remediations/", "finding"),
    ],
)
@pytest.mark.parametrize("value", [str(HUGE), str(MAX_ID + 1), "0", "1.5", "abc"])
def test_id_filters_take_ids_only(client_for, admin_user, world, path, parameter, value):
    response = client_for(admin_user).get(path, {parameter: value})

    assert fields_of(response) == [parameter]


def test_the_largest_id_is_just_not_found(client_for, admin_user, world):
    response = client_for(admin_user).get("/api/v1/approvals/", {"request": MAX_ID})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_boolean_filter_refuses_what_is_neither_true_nor_false(client_for, viewer, world):
    assert fields_of(client_for(viewer).get("/api/v1/scans/", {"partial": "maybe"})) == ["partial"]
    assert client_for(viewer).get("/api/v1/scans/", {"partial": "false"}).status_code == 200


# --- nesting and size ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 5_000 + "1" + "}" * 5_000,
        '{"findings": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}",
    ],
    ids=["100k-arrays", "5k-objects", "just-too-deep"],
)
def test_json_nested_too_deep_is_400_saying_so(client_for, operator, world, body):
    response = post_raw(client_for(operator), "/api/v1/remediations/", body)

    (error,) = refused(response)["errors"]
    assert f"more than {MAX_DEPTH} deep" in error["detail"]


def test_nesting_up_to_the_limit_is_only_data():
    assert not depth_exceeds([[{"a": [1]}]], limit=4)
    assert depth_exceeds([[{"a": [[]]}]], limit=4)
    assert not depth_exceeds("[[[[[[ in a string ]]]]]]", limit=1)


def test_a_body_over_the_limit_is_413(client_for, operator, world, settings):
    body = json.dumps({"findings": [1], "strategy": "sync", "reason": "x" * 6_000_000})

    response = post_raw(client_for(operator), "/api/v1/remediations/", body)

    problem = refused(response, 413)
    assert problem["type"] == "request-too-large"
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes" in problem["detail"]


def test_a_kubeconfig_sized_document_fits_the_limit(settings):
    # A Cluster document with a kubeconfig holding a few certificates is tens of KB.
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= 512 * 1024


def test_a_form_too_large_for_a_page_is_a_413_page(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/findings/actions", data={"comment": "x" * 3_000_000})

    assert response.status_code == 413
    assert "the most a page accepts" in response.content.decode()


# --- text ---------------------------------------------------------------------------------


def test_a_1_mb_suppression_reason_is_400_naming_it(client_for, operator, world):
    response = client_for(operator).post(
        f"/api/v1/findings/{world.finding.pk}/suppress/",
        {"reason": "x" * 1_000_000, "days": 1},
        format="json",
    )

    assert fields_of(response) == ["reason"]


def test_a_reason_of_the_longest_length_is_accepted(client_for, operator, world):
    response = client_for(operator).post(
        f"/api/v1/findings/{world.finding.pk}/suppress/",
        {"reason": "x" * MAX_TEXT, "days": 1},
        format="json",
    )

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/findings/{finding}/acknowledge/", "comment"),
        ("/api/v1/remediations/{request}/approve/", "comment"),
        ("/api/v1/remediations/{request}/reject/", "comment"),
        ("/api/v1/remediations/{request}/cancel/", "comment"),
        ("/api/v1/remediations/", "reason"),
        ("/api/v1/webhooks/", "description"),
    ],
)
def test_free_text_is_bounded_everywhere(client_for, admin_user, world, path, field):
    url = path.format(finding=world.finding.pk, request=world.request.pk)

    response = client_for(admin_user).post(url, {field: "x" * (MAX_TEXT + 1)}, format="json")

    assert field in fields_of(response)


# --- query values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"days": "abc"}, "days"),
        ({"days": "0"}, "days"),
        ({"days": "7", "since": "2026-01-01"}, "days"),
        ({"since": "0001-01-01", "until": "2026-01-02"}, "since"),
        ({"until": "9999-12-31"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"scope": "galaxy"}, "scope"),
        ({"page": "abc"}, "page"),
        ({"page_size": "abc"}, "page_size"),
    ],
)
def test_trends_refuse_values_they_cannot_use(client_for, viewer, query, field):
    assert fields_of(client_for(viewer).get("/api/v1/trends/", query)) == [field]


def test_trends_take_the_last_days(client_for, viewer):
    assert client_for(viewer).get("/api/v1/trends/", {"days": "7"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/summary/", {"scope": "cluster", "name": "x" * 300}, "name"),
        ("/api/v1/clusters/", {"page_size": "²"}, "page_size"),
        ("/api/v1/findings/", {"page_size": "9" * 5_000}, "page_size"),
    ],
)
def test_other_query_values_are_checked(client_for, viewer, world, path, query, field):
    assert fields_of(client_for(viewer).get(path, query)) == [field]


def cursor(ordering: str, *values: object) -> str:
    raw = json.dumps({"o": ordering, "v": list(values)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("/api/v1/scans/", cursor("-created_at", "not a time", 1)),
        ("/api/v1/scans/", cursor("-created_at", {"a": 1}, [1])),
        ("/api/v1/scans/", cursor("-created_at", "2026-01-01T00:00:00+00:00", HUGE)),
        ("/api/v1/audit-events/", cursor("-sequence", True)),
        ("/api/v1/audit-events/", "W" * 40 + "=="),
        ("/api/v1/findings/", "bm90LWEtY3Vyc29y"),  # "not-a-cursor"
        ("/api/v1/scans/", cursor("-nothing", "2026-01-01T00:00:00+00:00", 1)),
    ],
)
def test_a_cursor_made_by_hand_names_no_page_and_no_database_error(
    client_for, admin_user, world, path, token
):
    response = client_for(admin_user).get(path, {"cursor": token})

    assert response.status_code == 404
    assert response.json()["type"] == "not-found"


def test_a_cursor_pages_in_its_own_order_and_refuses_another(client_for, viewer, world):
    ScanFactory(policy=world.policy, cluster=world.cluster)
    client = client_for(viewer)
    first = client.get("/api/v1/scans/", {"ordering": "created_at", "page_size": 1}).json()
    token = first["next"].split("cursor=")[1].split("&")[0]

    followed = client.get("/api/v1/scans/", {"cursor": token, "page_size": 1})
    conflicting = client.get("/api/v1/scans/", {"cursor": token, "ordering": "-created_at"})

    assert followed.status_code == 200
    assert fields_of(conflicting) == ["ordering"]


def test_a_page_number_past_every_row_stays_a_query_the_database_runs(
    client, viewer, world, monkeypatch
):
    from dashboard.views import paging

    monkeypatch.setattr(paging, "CAP", 1)  # more rows than counted: no clamp to the last
    client.force_login(viewer)

    response = client.get("/findings/", {"page": str(HUGE)})

    assert response.status_code == 200


# --- JSON types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 0, "scope": "read"}, "name"),
        ({"name": "jira", "expires_in_days": "7"}, "expires_in_days"),
        ({"name": "jira", "expires_in_days": 7.0}, "expires_in_days"),
        ({"name": "jira", "expires_in_days": True}, "expires_in_days"),
    ],
)
def test_a_body_value_of_another_json_type_is_refused_not_converted(
    client_for, admin_user, body, field
):
    response = client_for(admin_user).post("/api/v1/tokens/", body, format="json")

    assert fields_of(response) == [field]


def test_query_values_are_text_and_still_read_as_numbers(client_for, viewer, world):
    assert client_for(viewer).get("/api/v1/summary/", {"days": "7"}).status_code == 200


def test_a_moment_with_an_offset_postgresql_cannot_hold_is_read_in_utc(client_for, admin_user):
    # ISO 8601 allows -19:31; PostgreSQL's timestamps stop at 15:59 (this was a 500).
    query = {"since": "5931-11-08T07:45:51-19:31"}

    assert client_for(admin_user).get("/api/v1/audit-events/", query).status_code == 200
