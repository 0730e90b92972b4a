"""/api/v1/alignment/rules/: every rule and where it stands, one rule by id, narrowed to a
cluster or a lane; and the findings behind a failing rule through the findings API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from alignment import rules, trends
from drift.models import Lane
from tests.factories import AlignmentFindingFactory, ClusterFactory

pytestmark = pytest.mark.django_db

RULES_URL = "/api/v1/alignment/rules/"


@pytest.fixture
def fleet() -> dict[str, Any]:
    """Cluster east runs both lanes, west only the fast one; three open violations of
    lane.secret (two in the controlled lane's namespace), one resolved of refs.secret."""
    controlled = Lane.objects.create(name="controlled", namespaces=["shop"])
    fast = Lane.objects.create(name="fast", namespaces=["dev-*"])
    east, west = ClusterFactory(name="east"), ClusterFactory(name="west")
    east.lanes.add(controlled, fast)
    west.lanes.add(fast)
    now = timezone.now()
    return {
        "shop_web": AlignmentFindingFactory(cluster=east, name="web", first_seen=now),
        "shop_api": AlignmentFindingFactory(
            cluster=east, name="api", first_seen=now - timedelta(days=10)
        ),
        "dev_web": AlignmentFindingFactory(
            cluster=west, namespace="dev-shop", name="web", first_seen=now
        ),
        "gone": AlignmentFindingFactory(
            cluster=east,
            rule="refs.secret",
            status="resolved",
            first_seen=now - timedelta(days=3),
            resolved_at=now - timedelta(days=1),
        ),
    }


def by_id(body: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in body}


def test_it_lists_every_rule_failing_ones_first(client_for: Any, viewer: Any, fleet: Any) -> None:
    response = client_for(viewer).get(RULES_URL)

    assert response.status_code == 200
    body = response.json()
    assert len(body) == len(rules.RULES)
    assert body[0]["id"] == "lane.secret"
    secret = body[0]
    assert {k: v for k, v in secret.items() if k not in ("trend", "runbook")} == {
        "id": "lane.secret",
        "severity": "high",
        "title": "Workloads use their own lane's Secrets",
        "passing": False,
        "open": 3,
        "clusters": {"east": 2, "west": 1},
        "lanes": {"controlled": 2, "fast": 1},
        "opened_recently": 2,
        "resolved_recently": 0,
        "change_this_week": 2,
    }
    assert "Give the lane its own Secret" in secret["runbook"]
    assert len(secret["trend"]) == trends.DAYS
    assert secret["trend"][-1] == {"day": timezone.localdate().isoformat(), "open": 3}
    assert secret["trend"][-11]["open"] == 1  # only shop/api, ten days ago
    assert all(not rule["passing"] for rule in body[:1]) and all(r["passing"] for r in body[1:])


def test_a_resolved_rule_passes_and_shows_what_resolved(
    client_for: Any, viewer: Any, fleet: Any
) -> None:
    refs = client_for(viewer).get(f"{RULES_URL}refs.secret/").json()

    assert (refs["passing"], refs["open"]) == (True, 0)
    assert (refs["opened_recently"], refs["resolved_recently"]) == (1, 1)
    assert [p["open"] for p in refs["trend"][-4:]] == [1, 1, 0, 0]


@pytest.mark.parametrize(
    "query, opened, clusters, lanes",
    [
        ({"cluster": "east"}, 2, {"east": 2}, {"controlled": 2}),
        ({"cluster": "west"}, 1, {"west": 1}, {"fast": 1}),
        ({"lane": "controlled"}, 2, {"east": 2}, {"controlled": 2}),
        ({"lane": "fast"}, 1, {"west": 1}, {"fast": 1}),
        ({"cluster": "east", "lane": "fast"}, 0, {}, {}),
    ],
)
def test_cluster_and_lane_narrow_every_count(
    client_for: Any, viewer: Any, fleet: Any, query: dict, opened: int, clusters: dict, lanes: dict
) -> None:
    secret = client_for(viewer).get(f"{RULES_URL}lane.secret/", query).json()

    assert (secret["open"], secret["clusters"], secret["lanes"]) == (opened, clusters, lanes)
    assert secret["trend"][-1]["open"] == opened


def test_an_unknown_rule_is_a_404_that_names_the_rules(client_for: Any, viewer: Any) -> None:
    response = client_for(viewer).get(f"{RULES_URL}lane.nope/")

    assert response.status_code == 404
    assert response.json()["type"] == "not-found"
    assert "no alignment rule 'lane.nope'" in response.json()["detail"]
    assert "lane.secret" in response.json()["detail"]


def test_an_unknown_cluster_or_lane_is_a_400_not_an_all_clear(
    client_for: Any, viewer: Any, fleet: Any
) -> None:
    client = client_for(viewer)

    cluster = client.get(RULES_URL, {"cluster": "north"})
    lane = client.get(f"{RULES_URL}lane.secret/", {"lane": "slow"})
    other = client.get(RULES_URL, {"rule": "lane.secret"})

    assert cluster.status_code == 400 and cluster.json()["errors"][0]["field"] == "cluster"
    assert lane.status_code == 400
    assert lane.json()["errors"][0] == {"field": "lane", "detail": "no lane named 'slow'"}
    assert other.status_code == 400  # a parameter it does not take


def test_reading_rules_needs_the_right_to_read_findings(
    client_for: Any, viewer: Any, outsider: Any
) -> None:
    assert APIClient().get(RULES_URL).status_code == 401
    signed_in = APIClient()
    signed_in.force_login(outsider)
    assert signed_in.get(RULES_URL).status_code == 403
    assert client_for(viewer, "read").get(f"{RULES_URL}lane.secret/").status_code == 200


def test_the_list_takes_the_same_queries_however_many_violations(
    client_for: Any, viewer: Any, fleet: Any
) -> None:
    client = client_for(viewer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as done:
            assert client.get(RULES_URL).status_code == 200
        return len(done)

    queries()  # the token's first use is written down once
    before = queries()
    west = fleet["dev_web"].cluster
    for n in range(5):
        AlignmentFindingFactory(cluster=west, namespace=f"dev-{n}", rule="lane.secret")

    assert queries() == before


def test_a_failing_rules_findings_come_by_type_rule_and_lane(
    client_for: Any, viewer: Any, fleet: Any
) -> None:
    client = client_for(viewer)

    def listed(**query: str) -> set[int]:
        query = {"type": "alignment", "rule": "lane.secret", **query}
        return {f["id"] for f in client.get("/api/v1/findings/", query).json()["results"]}

    detail = client.get(f"/api/v1/findings/{fleet['dev_web'].pk}/").json()

    # lane= means in the lane's namespaces on its clusters: east carries both lanes, and
    # its shop findings are the controlled lane's alone.
    assert listed(lane="controlled") == {fleet["shop_web"].pk, fleet["shop_api"].pk}
    assert listed(lane="fast") == {fleet["dev_web"].pk}
    assert listed(lane="fast", cluster="east") == set()
    assert detail["rule"] == "lane.secret"
    assert detail["diff"]["evidence"][1]["note"] == "which belongs to lane fast"


def test_the_schema_documents_both_endpoints(client_for: Any, viewer: Any) -> None:
    schema = client_for(viewer).get("/api/schema/", HTTP_ACCEPT="application/json").json()

    listed = schema["paths"]["/api/v1/alignment/rules/"]["get"]
    one = schema["paths"]["/api/v1/alignment/rules/{rule_id}/"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"cluster", "lane"}
    assert "404" in one["responses"] and listed["tags"] == ["alignment"]


def test_a_finding_on_a_namespace_itself_belongs_to_the_lane_owning_it(
    client_for: Any, viewer: Any, fleet: Any
) -> None:
    """What a lane requires is reported on the Namespace object (cluster-scoped: its own
    namespace column is empty); its lane is the one owning the namespace it names."""
    east = fleet["shop_web"].cluster
    missing = AlignmentFindingFactory(
        cluster=east, api_group="", kind="Namespace", namespace="", name="shop",
        rule="policy.default-deny",
    )  # fmt: skip
    client = client_for(viewer)

    rule = client.get(f"{RULES_URL}policy.default-deny/").json()
    listed = client.get("/api/v1/findings/", {"lane": "controlled", "kind": "Namespace"}).json()

    assert rule["lanes"] == {"controlled": 1}
    assert [f["id"] for f in listed["results"]] == [missing.pk]
    fast = client.get("/api/v1/findings/", {"lane": "fast", "kind": "Namespace"}).json()
    assert fast["results"] == []
