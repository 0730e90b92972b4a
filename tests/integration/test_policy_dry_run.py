"""The dry run of an unsaved policy, against the local API server and a real Git
repository: it finds the drift a scan finds, and writes nothing at all."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.urls import reverse

from drift.models import Cluster, DriftPolicy, Finding, GitSource, ObjectSnapshot, Scan
from drift.services import dry_run
from driftcontrol.models import AuditEvent, OutboxEvent
from tests.integration.conftest import GitRepo, apply_shop, findings, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
IMAGE = "/spec/template/spec/containers/0/image"


def policy_document(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "driftcontrol.io/v1alpha1",
        "kind": "DriftPolicy",
        "metadata": {"name": "shop"},
        "spec": {
            "source": "shop",
            "clusters": {"names": ["test-a"]},
            "namespace": namespace,
            "namespaces": {"include": [namespace]},
        },
    }


def rows() -> dict[str, int]:
    """Every table a scan, the ledger or a save would write to."""
    models = (DriftPolicy, Scan, Finding, ObjectSnapshot, AuditEvent, OutboxEvent)
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def drifted(devcluster: Any, shop_repo: GitRepo, scanner_cluster: Cluster, kube_namespace: str):
    """The shop deployed from Git, then changed by hand: an image swapped, a Service gone."""
    GitSource.objects.create(name="shop", url=str(shop_repo.path), ref="main", path="k8s")
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl(
        "set", "image", "-n", kube_namespace, "deployment/frontend", "server=evil.example/f:6.6.6"
    )
    devcluster.kubectl("delete", "-n", kube_namespace, "service/redis-cart")
    return kube_namespace


def test_a_dry_run_finds_the_drift_a_scan_finds_and_writes_nothing(
    drifted: str, scanner_cluster: Cluster
) -> None:
    namespace = drifted
    before = rows()

    result = dry_run.dry_run(policy_document(namespace))

    assert rows() == before
    source, cluster = GitSource.objects.get(), Cluster.objects.get()
    assert (source.last_revision, source.last_fetched_at) == ("", None)
    assert (cluster.last_contact_at, cluster.last_error) == (None, "")
    [on_cluster] = result.clusters
    assert (result.error, on_cluster.cluster, on_cluster.error) == ("", "test-a", "")
    assert on_cluster.objects_desired == 49 and on_cluster.problems == []
    found = {(f.object, f.type): (f.severity, f.summary) for f in on_cluster.shown}
    assert found == {
        (f"Deployment.apps {namespace}/frontend", "modified"): ("high", IMAGE),
        (f"Service {namespace}/redis-cart", "missing"): (
            "medium",
            "declared in Git, missing from the cluster",
        ),
    }
    assert on_cluster.counts == {"critical": 0, "high": 1, "medium": 1, "low": 0, "info": 0}

    # Saved and scanned, the same policy finds the same drift.
    policy = DriftPolicy.objects.create(
        name="shop",
        source=source,
        cluster_names=["test-a"],
        default_namespace=namespace,
        namespaces={"include": [namespace], "exclude": []},
    )
    scan(policy, scanner_cluster)
    scanned = {key: f.severity for key, f in findings(policy).items()}
    assert scanned == {
        ("Deployment", "frontend", "modified"): "high",
        ("Service", "redis-cart", "missing"): "medium",
    }


def test_an_admin_runs_it_from_the_editor_and_nothing_is_stored(
    client: Any, admin_user: Any, drifted: str
) -> None:
    client.force_login(admin_user)
    text = yaml.safe_dump(policy_document(drifted), sort_keys=False)
    before = rows()

    response = client.post(reverse("policy-dry-run"), {"document": text}, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200
    assert rows() == before
    assert "<strong>Nothing was saved.</strong>" in page
    assert "<strong>2</strong> findings among 49 objects declared in Git" in page
    assert f"Deployment.apps {drifted}/frontend" in page and IMAGE in page


def test_a_cluster_that_cannot_be_reached_is_named_with_its_error(
    drifted: str, scanner_cluster: Cluster
) -> None:
    unreachable = Cluster(name="test-z")
    unreachable.set_credentials(
        "apiVersion: v1\nkind: Config\n"
        'clusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]\n'
        "users: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n"
    )
    unreachable.save()
    document = policy_document(drifted)
    document["spec"]["clusters"] = {"names": ["test-a", "test-z"]}

    result = dry_run.dry_run(document, limit=60)

    by_name = {c.cluster: c for c in result.clusters}
    assert by_name["test-a"].total == 2
    assert by_name["test-z"].error.startswith("could not be read:")
    assert by_name["test-z"].shown == []
