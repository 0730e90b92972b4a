"""/api/v1/admission/decisions/ and /api/v1/admission/summary/: the decisions the
admission webhook kept, newest first and filtered, and the Admission page's numbers for a
period; read-only, for every role, described by the schema."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alignment.admission import overview
from alignment.models import AdmissionDecision
from tests.api.conftest import token_for
from tests.web.admission_fleet import admission_fleet, decision

pytestmark = pytest.mark.django_db

DECISIONS = "/api/v1/admission/decisions/"
SUMMARY = "/api/v1/admission/summary/"


@pytest.fixture
def api(viewer: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(viewer, 'read')}")
    return client


@pytest.fixture
def fleet() -> dict[str, Any]:
    return admission_fleet()


def listed(api: APIClient, **query: Any) -> list[dict[str, Any]]:
    response = api.get(DECISIONS, query)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_the_list_is_every_decision_kept_newest_first(api: APIClient, fleet: Any) -> None:
    found = listed(api)

    assert [d["outcome"] for d in found] == ["deny"] * 3 + ["warn"] * 2 + ["break-glass", "deny"]
    first = found[0]
    assert first["cluster"] == "east" and first["lane"] == "controlled"
    assert first["rules"] == ["lane.deployer", "lane.registry"]
    assert first["user"] == "mallory@example.com"
    assert first["groups"] == ["devs", "system:authenticated"]
    assert (first["operation"], first["api_group"], first["kind"]) == (
        "UPDATE",
        "apps",
        "Deployment",
    )
    assert (first["namespace"], first["name"], first["subresource"]) == ("shop", "web", "")
    assert first["dry_run"] is False and first["latency_ms"] == 0.8
    assert set(first) >= {"id", "at", "message", "uid", "unverified"}


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"cluster": "west"}, ["deny"]),
        ({"lane": "fast"}, ["deny"]),
        ({"outcome": "break-glass"}, ["break-glass"]),
        ({"rule": "lane.registry"}, ["deny"] * 3),
        ({"rule": "lane.break-glass"}, ["break-glass"]),
        ({"rule": "lane"}, []),  # a rule is named whole
        ({"user": "alice"}, ["warn", "warn"]),
        ({"user": "ALICE"}, []),
        ({"cluster": "east", "rule": "lane.deployer", "outcome": "warn"}, ["warn", "warn"]),
        ({"cluster": "nowhere"}, []),
    ],
)
def test_the_list_filters(api: APIClient, fleet: Any, query: dict, expected: list) -> None:
    assert [d["outcome"] for d in listed(api, **query)] == expected


def test_since_and_until_take_moments_with_their_offset(api: APIClient, fleet: Any) -> None:
    day_ago = (timezone.now() - timedelta(days=1)).astimezone(UTC).isoformat()

    recent = listed(api, since=day_ago)
    older = listed(api, until=day_ago)
    naive = api.get(DECISIONS, {"since": "2026-05-01T12:00:00"})

    assert len(recent) == 6 and [d["cluster"] for d in older] == ["west"]
    assert naive.status_code == 400 and naive.json()["errors"][0]["field"] == "since"


@pytest.mark.parametrize(
    "query, field",
    [
        ({"outcome": "allow"}, "outcome"),  # allows are counted, never kept
        ({"page": "2"}, "page"),
        ({"ordering": "user"}, "ordering"),
        ({"cluster": "e" * 254}, "cluster"),
    ],
)
def test_a_bad_query_is_a_400_naming_it(
    api: APIClient, fleet: Any, query: dict, field: str
) -> None:
    response = api.get(DECISIONS, query)

    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}


def test_the_list_pages_by_cursor(api: APIClient, fleet: Any) -> None:
    first = api.get(DECISIONS, {"page_size": 4}).json()
    second = api.get(first["next"]).json()

    seen = [d["id"] for d in first["results"] + second["results"]]
    assert len(seen) == 7 == len(set(seen)) and second["next"] is None


def test_one_decision_and_none_that_is_not(api: APIClient, fleet: Any) -> None:
    kept = AdmissionDecision.objects.get(user="sam")

    one = api.get(f"{DECISIONS}{kept.pk}/")
    gone = api.get(f"{DECISIONS}{kept.pk + 1000}/")

    assert one.status_code == 200 and one.json()["subresource"] == "scale"
    assert one.json()["rules"] == ["lane.break-glass", "lane.deployer"]
    assert gone.status_code == 404


def test_the_list_is_read_only(
    api: APIClient, fleet: Any, client_for: Any, admin_user: Any
) -> None:
    admin = client_for(admin_user, "admin")

    assert admin.post(DECISIONS, {}, format="json").status_code == 405
    kept = AdmissionDecision.objects.first()
    assert admin.delete(f"{DECISIONS}{kept.pk}/").status_code == 405


def test_the_list_takes_the_same_queries_however_many_decisions(
    api: APIClient, fleet: Any, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(8) as few:
        listed(api)
    for n in range(40):
        decision(fleet["west"], timedelta(seconds=n), "deny", ["lane.secret"])

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(listed(api)) == 47


def test_the_summary_has_the_pages_numbers(api: APIClient, fleet: Any) -> None:
    response = api.get(SUMMARY)

    assert response.status_code == 200
    body = response.json()
    assert (body["period"], body["bucket"]) == ("24h", "hour")
    assert body["outcomes"] == {"allow": 60, "warn": 2, "deny": 3, "break-glass": 1}
    assert body["dry_runs"] == 2
    assert sum(sum(m["outcomes"].values()) for m in body["over_time"]) == 66
    assert [(lane["name"], lane["total"]) for lane in body["lanes"]] == [
        ("controlled", 46),
        ("fast", 20),
    ]
    assert body["rules"][0] == {
        "name": "lane.deployer",
        "outcomes": {"allow": 0, "warn": 2, "deny": 3, "break-glass": 1},
        "total": 6,
    }
    assert body["latency"]["count"] == 66 and body["latency"]["max_ms"] == 50.0
    assert body["latency"]["p50_ms"] <= 1.0 and body["latency"]["mean_ms"] > 0
    states = {s["installation"]["cluster"]: s for s in body["installations"]}
    assert states["east"]["answering"] and states["east"]["installation"]["mode"] == "warn"
    assert states["west"]["installation"]["removed_at"] and not states["west"]["answering"]
    assert [s["hostname"] for s in body["servers"]["answering"]] == ["admission-2"]


def test_the_summary_narrows_as_the_page_does(api: APIClient, fleet: Any) -> None:
    week = api.get(SUMMARY, {"period": "7d", "cluster": "west"}).json()
    hour = api.get(SUMMARY, {"period": "1h", "outcome": "deny"}).json()

    assert week["outcomes"] == {"allow": 20, "warn": 0, "deny": 1, "break-glass": 0}
    assert [s["installation"]["cluster"] for s in week["installations"]] == ["west"]
    assert hour["bucket"] == "minute" and hour["outcomes"]["deny"] == 3
    assert [r["name"] for r in hour["rules"]] == ["lane.deployer", "lane.registry"]


def test_an_empty_summary_has_nulls_where_nothing_was_measured(api: APIClient) -> None:
    body = api.get(SUMMARY).json()

    assert body["outcomes"] == dict.fromkeys(overview.OUTCOMES, 0)
    assert body["latency"] == {
        "count": 0,
        "mean_ms": None,
        "p50_ms": None,
        "p90_ms": None,
        "p99_ms": None,
        "max_ms": None,
    }
    assert body["installations"] == [] and body["servers"]["last_answered"] is None


@pytest.mark.parametrize(
    "query, field",
    [
        ({"period": "1y"}, "period"),
        ({"outcome": "maybe"}, "outcome"),
        ({"cluster": "nowhere"}, "cluster"),
        ({"lane": "nowhere"}, "lane"),
        ({"since": "2026-01-01T00:00:00Z"}, "since"),
    ],
)
def test_the_summary_refuses_what_it_cannot_use(
    api: APIClient, fleet: Any, query: dict, field: str
) -> None:
    response = api.get(SUMMARY, query)

    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}


def test_reading_admission_needs_a_sign_in_and_a_role(outsider: Any) -> None:
    anonymous, nobody = APIClient(), APIClient()
    nobody.force_authenticate(outsider)

    for url in (DECISIONS, SUMMARY):
        assert anonymous.get(url).status_code == 401
        assert nobody.get(url).status_code == 403


def test_the_schema_describes_both_operations(api: APIClient) -> None:
    document = api.get("/api/schema/", {"format": "json"}).json()

    listing = document["paths"]["/api/v1/admission/decisions/"]["get"]
    summary = document["paths"]["/api/v1/admission/summary/"]["get"]
    assert listing["summary"] and listing["description"] and listing["tags"] == ["admission"]
    assert {p["name"] for p in listing["parameters"]} >= {
        "cluster",
        "lane",
        "outcome",
        "rule",
        "user",
        "since",
        "until",
        "cursor",
        "page_size",
    }
    outcome = next(p for p in listing["parameters"] if p["name"] == "outcome")
    assert set(outcome["schema"]["enum"]) == {"warn", "deny", "break-glass"}
    assert {p["name"] for p in summary["parameters"]} == {"period", "cluster", "lane", "outcome"}
    body = document["components"]["schemas"]["AdmissionSummary"]
    assert {"outcomes", "over_time", "lanes", "rules", "latency", "installations"} <= set(
        body["properties"]
    )
    assert "/api/v1/admission/decisions/{id}/" in document["paths"]
