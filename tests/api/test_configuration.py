"""Clusters, lanes, Git sources and policies through the API validate exactly as
`drift apply` does, and credentials never come back out."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift import declarative
from drift.models import Cluster, DriftPolicy, GitSource
from driftcontrol.crypto import unseal
from driftcontrol.models import AuditEvent
from tests.factories import GitSourceFactory, LaneFactory

pytestmark = pytest.mark.django_db

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: east
  cluster: {server: "https://east.example:6443", insecure-skip-tls-verify: true}
users:
- name: scanner
  user: {token: not-a-real-token}
contexts:
- name: east
  context: {cluster: east, user: scanner}
current-context: east
"""


def test_a_policy_is_created_from_its_document(client_for, admin_user):
    GitSourceFactory(name="shop")

    response = client_for(admin_user).post(
        "/api/v1/policies/",
        {
            "metadata": {"name": "shop"},
            "spec": {
                "source": "shop",
                "clusters": {"names": ["east"]},
                "interval": "2m",
                "remediation": {"approvals": {"critical": 3}},
            },
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    policy = DriftPolicy.objects.get(name="shop")
    assert (policy.interval_seconds, policy.approvals["critical"]) == (120, 3)
    assert response.json()["document"]["spec"]["interval"] == "120s"
    assert AuditEvent.objects.filter(action="driftpolicy.created").exists()


def test_every_bad_field_is_named_as_drift_apply_names_it(client_for, admin_user):
    spec = {"source": "nowhere", "interval": "5", "mode": "sometimes", "bogus": 1, "clusters": {}}
    document = {
        "apiVersion": declarative.API_VERSION,
        "kind": "DriftPolicy",
        "metadata": {"name": "shop"},
        "spec": spec,
    }
    with pytest.raises(declarative.InvalidDocuments) as refused:
        declarative.plan([document])
    expected = sorted(
        (p.path.removeprefix("documents[0]."), p.message) for p in refused.value.problems
    )

    response = client_for(admin_user).post(
        "/api/v1/policies/", {"metadata": {"name": "shop"}, "spec": spec}, format="json"
    )

    assert response.status_code == 400
    errors = sorted((e["field"], e["detail"]) for e in response.json()["errors"])
    assert errors == expected
    assert {"spec.interval", "spec.mode", "spec.bogus", "spec.clusters", "spec.source"} <= {
        field for field, _ in errors
    }


def test_creating_what_exists_is_409(client_for, admin_user):
    LaneFactory(name="fast")

    response = client_for(admin_user).post(
        "/api/v1/lanes/", {"metadata": {"name": "fast"}, "spec": {}}, format="json"
    )

    assert response.status_code == 409


def test_a_cluster_kubeconfig_is_write_only(client_for, admin_user):
    client = client_for(admin_user)

    created = client.post(
        "/api/v1/clusters/",
        {
            "metadata": {"name": "east", "labels": {"region": "eu"}},
            "spec": {"kubeconfig": KUBECONFIG},
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["has_credentials"] is True
    assert created.json()["api_server_url"] == "https://east.example:6443"
    assert "not-a-real-token" not in str(created.json())
    assert "not-a-real-token" not in str(client.get("/api/v1/clusters/east/").json())
    assert Cluster.objects.get().read_credentials() == KUBECONFIG
    # A PATCH that does not name the kubeconfig keeps it.
    patched = client.patch("/api/v1/clusters/east/", {"spec": {"enabled": False}}, format="json")
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert Cluster.objects.get().read_credentials() == KUBECONFIG


def test_a_kubeconfig_path_is_refused(client_for, admin_user, tmp_path: Path):
    secret = tmp_path / "server-file"
    secret.write_text(KUBECONFIG)

    response = client_for(admin_user).post(
        "/api/v1/clusters/",
        {"metadata": {"name": "east"}, "spec": {"kubeconfig": str(secret)}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "spec.kubeconfig"
    assert not Cluster.objects.exists()


def test_a_hook_secret_is_write_only_and_kept_by_updates_that_omit_it(client_for, admin_user):
    client = client_for(admin_user)
    client.post(
        "/api/v1/sources/",
        {"metadata": {"name": "shop"}, "spec": {"url": "/srv/git/shop", "hookSecret": "s3cret"}},
        format="json",
    )

    read = client.get("/api/v1/sources/shop/")

    replaced = client.put(
        "/api/v1/sources/shop/",
        {"metadata": {}, "spec": {"url": "/srv/git/shop", "ref": "release"}},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )

    assert replaced.status_code == 200
    assert replaced.json()["has_hook_secret"] is True and "s3cret" not in str(replaced.json())
    source = GitSource.objects.get()
    assert (source.ref, unseal(source.hook_secret)) == ("release", "s3cret")


def test_a_rename_through_put_is_refused(client_for, admin_user):
    LaneFactory(name="fast")
    client = client_for(admin_user)
    read = client.get("/api/v1/lanes/fast/")

    response = client.put(
        "/api/v1/lanes/fast/",
        {"metadata": {"name": "slow"}, "spec": {}},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "metadata.name"
