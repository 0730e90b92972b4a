"""Configuration writes are safe: PUT replaces only with a whole document and only the
version the client read (If-Match, required), PATCH changes only what it names, and two
clients that read the same version cannot both write."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from drift.models import Cluster
from driftcontrol.api import preconditions
from tests.api.test_configuration import KUBECONFIG
from tests.factories import ClusterFactory, LaneFactory

WEST = "/api/v1/clusters/west/"


@pytest.fixture
def west(db: None) -> Cluster:
    """A cluster a policy selects by its labels, in the fast lane."""
    cluster = ClusterFactory(name="west", labels={"region": "eu", "tier": "prod"})
    cluster.lanes.set([LaneFactory(name="fast")])
    return cluster


def labels_and_lanes(name: str = "west") -> tuple[dict[str, str], list[str]]:
    cluster = Cluster.objects.get(name=name)
    return cluster.labels, sorted(lane.name for lane in cluster.lanes.all())


def whole_document(labels: dict[str, str], lanes: list[str]) -> dict[str, Any]:
    return {"metadata": {"name": "west", "labels": labels}, "spec": {"lanes": lanes}}


@pytest.mark.django_db
def test_an_empty_put_is_refused_and_keeps_labels_and_lanes(client_for, admin_user, west):
    client = client_for(admin_user)
    tag = client.get(WEST)["ETag"]

    without_body = client.put(WEST, HTTP_IF_MATCH=tag)
    empty_object = client.put(WEST, {}, format="json", HTTP_IF_MATCH=tag)

    for response in (without_body, empty_object):
        assert response.status_code == 400, response.json()
        body = response.json()
        assert body["type"] == "validation-error"
        assert {e["field"] for e in body["errors"]} == {"metadata", "spec"}
    assert labels_and_lanes() == ({"region": "eu", "tier": "prod"}, ["fast"])
    assert client.get(WEST)["ETag"] == tag


@pytest.mark.django_db
def test_a_put_without_spec_names_spec(client_for, admin_user, west):
    client = client_for(admin_user)
    tag = client.get(WEST)["ETag"]

    response = client.put(WEST, {"metadata": {"labels": {}}}, format="json", HTTP_IF_MATCH=tag)

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["spec"]
    assert labels_and_lanes() == ({"region": "eu", "tier": "prod"}, ["fast"])


@pytest.mark.django_db
def test_a_put_without_if_match_is_428_and_changes_nothing(client_for, admin_user, west):
    response = client_for(admin_user).put(WEST, whole_document({}, []), format="json")

    assert response.status_code == 428
    body = response.json()
    assert (body["type"], body["status"]) == ("precondition-required", 428)
    assert "If-Match" in body["detail"]
    assert labels_and_lanes() == ({"region": "eu", "tier": "prod"}, ["fast"])


@pytest.mark.django_db
def test_a_stale_if_match_is_412_and_changes_nothing(client_for, admin_user, west):
    client = client_for(admin_user)
    stale = client.get(WEST)["ETag"]
    changed = client.patch(WEST, {"metadata": {"labels": {"region": "us"}}}, format="json")
    assert changed.status_code == 200 and changed["ETag"] != stale

    replaced = client.put(WEST, whole_document({}, []), format="json", HTTP_IF_MATCH=stale)
    patched = client.patch(WEST, {"spec": {"lanes": []}}, format="json", HTTP_IF_MATCH=stale)

    for response in (replaced, patched):
        assert response.status_code == 412
        assert response.json()["type"] == "precondition-failed"
        assert response["ETag"] == changed["ETag"]  # the current version, to redo it on
    assert labels_and_lanes() == ({"region": "us"}, ["fast"])


@pytest.mark.django_db
def test_a_new_object_answers_where_it_lives(client_for, admin_user):
    response = client_for(admin_user).post(
        "/api/v1/lanes/", {"metadata": {"name": "slow"}, "spec": {}}, format="json"
    )

    assert response.status_code == 201
    assert response["Location"] == "/api/v1/lanes/slow/"
    assert response["ETag"]


@pytest.mark.django_db
def test_a_fresh_if_match_replaces_and_answers_the_new_etag(client_for, admin_user, west):
    LaneFactory(name="slow")
    client = client_for(admin_user)
    tag = client.get(WEST)["ETag"]

    response = client.put(
        WEST, whole_document({"region": "eu"}, ["slow"]), format="json", HTTP_IF_MATCH=tag
    )

    assert response.status_code == 200, response.json()
    assert response["ETag"] not in ("", tag)
    assert response["ETag"] == client.get(WEST)["ETag"]
    assert labels_and_lanes() == ({"region": "eu"}, ["slow"])
    # The tag it answered is the one to send next; the one before is spent.
    again = client.put(WEST, whole_document({}, []), format="json", HTTP_IF_MATCH=tag)
    assert again.status_code == 412


@pytest.mark.django_db
def test_a_patch_with_if_match_changes_only_the_fields_given(client_for, admin_user, west):
    client = client_for(admin_user)
    tag = client.get(WEST)["ETag"]

    response = client.patch(WEST, {"spec": {"enabled": False}}, format="json", HTTP_IF_MATCH=tag)

    assert response.status_code == 200, response.json()
    assert response["ETag"] != tag
    cluster = Cluster.objects.get(name="west")
    assert cluster.enabled is False
    assert labels_and_lanes() == ({"region": "eu", "tier": "prod"}, ["fast"])


@pytest.mark.django_db
def test_if_match_compares_strongly_and_accepts_any_version_with_a_star(
    client_for, admin_user, west
):
    client = client_for(admin_user)
    tag = client.get(WEST)["ETag"]

    weak = client.patch(WEST, {"spec": {"enabled": False}}, format="json", HTTP_IF_MATCH="W/" + tag)
    listed = client.patch(
        WEST, {"spec": {"enabled": False}}, format="json", HTTP_IF_MATCH=f'"other", {tag}'
    )
    star = client.put(WEST, whole_document({}, ["fast"]), format="json", HTTP_IF_MATCH="*")

    assert (weak.status_code, listed.status_code, star.status_code) == (412, 200, 200)


@pytest.mark.django_db
def test_every_configuration_answer_carries_the_stored_versions_etag(client_for, admin_user):
    client = client_for(admin_user)

    created = client.post(
        "/api/v1/sources/", {"metadata": {"name": "shop"}, "spec": {"url": "/srv/git"}}, "json"
    )
    read = client.get("/api/v1/sources/shop/")
    patched = client.patch("/api/v1/sources/shop/", {"spec": {"ref": "release"}}, "json")

    assert created.status_code == 201
    assert created["ETag"] == read["ETag"] != patched["ETag"]
    assert patched["ETag"] == client.get("/api/v1/sources/shop/")["ETag"]
    for kind in ("lanes", "clusters", "policies"):
        assert "ETag" not in client.get(f"/api/v1/{kind}/")  # lists have none of their own


@pytest.mark.django_db
def test_changing_only_a_secret_changes_the_etag(client_for, admin_user):
    client = client_for(admin_user)
    created = client.post(
        "/api/v1/clusters/",
        {"metadata": {"name": "east"}, "spec": {"kubeconfig": KUBECONFIG}},
        format="json",
    )
    assert created.status_code == 201, created.json()

    rotated = KUBECONFIG.replace("not-a-real-token", "another-token")
    patched = client.patch(
        "/api/v1/clusters/east/", {"spec": {"kubeconfig": rotated}}, format="json"
    )

    assert patched.status_code == 200, patched.json()
    assert patched.json()["document"] == created.json()["document"]
    assert patched["ETag"] != created["ETag"]


@pytest.mark.django_db
def test_the_schema_documents_the_headers_and_the_precondition_answers(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    detail = paths["/api/v1/clusters/{name}/"]

    put, patch, get = detail["put"], detail["patch"], detail["get"]
    if_match = {p["name"]: p for p in put["parameters"] if p["in"] == "header"}["If-Match"]
    assert if_match["required"] is True
    assert {"412", "428"} <= set(put["responses"])
    assert "412" in patch["responses"]
    assert any(p["name"] == "If-Match" and not p.get("required") for p in patch["parameters"])
    for operation in (put, patch, get):
        assert "ETag" in operation["responses"]["200"]["headers"]
    assert "ETag" in paths["/api/v1/clusters/"]["post"]["responses"]["201"]["headers"]


@pytest.mark.django_db(transaction=True)
def test_two_puts_with_the_same_tag_cannot_both_win(client_for, admin_user, west, monkeypatch):
    """The second writer arrives while the first, having passed the check, has not yet
    written. Without the row lock both would see the old version and both write."""
    client = client_for(admin_user)
    tag = client.get(WEST)["ETag"]
    first_checked, check = threading.Event(), preconditions.check

    def check_then_dawdle(*args: Any, **kwargs: Any) -> None:
        check(*args, **kwargs)
        if threading.current_thread().name == "first":
            first_checked.set()
            threading.Event().wait(0.5)  # the second writer gets here meanwhile, if it can

    monkeypatch.setattr(preconditions, "check", check_then_dawdle)
    answers: dict[str, int] = {}
    clients = {"first": client, "second": client_for(admin_user)}

    def put(name: str, labels: dict[str, str]) -> None:
        try:
            response = clients[name].put(
                WEST, whole_document(labels, ["fast"]), format="json", HTTP_IF_MATCH=tag
            )
            answers[name] = response.status_code
        finally:
            connection.close()

    first = threading.Thread(target=put, args=("first", {"writer": "first"}), name="first")
    second = threading.Thread(target=put, args=("second", {"writer": "second"}))
    first.start()
    assert first_checked.wait(10)
    second.start()
    first.join(10)
    second.join(10)

    assert answers == {"first": 200, "second": 412}
    assert labels_and_lanes() == ({"writer": "first"}, ["fast"])


@pytest.mark.django_db
def test_a_wrong_body_is_a_400_whatever_the_version(client_for, admin_user, west):
    client = client_for(admin_user)
    wrong = {"metadata": {}, "spec": {"lanes": "fast", "colour": "red"}}

    stale = client.put(WEST, wrong, format="json", HTTP_IF_MATCH='"stale"')
    missing = client.put(WEST, wrong, format="json")

    for response in (stale, missing):
        assert response.status_code == 400
        assert {e["field"] for e in response.json()["errors"]} == {"spec.lanes", "spec.colour"}
    assert labels_and_lanes() == ({"region": "eu", "tier": "prod"}, ["fast"])
