"""One policy, two real clusters chosen by a label selector: each scanned, its drift its
own, scored on its own, and remediated through its own request."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kubernetes import client

from drift.models import Cluster, DriftPolicy, GitSource, RollupScope
from drift.services import analytics, clusters
from remediation import services
from remediation.models import RemediationRequest, RequestStatus
from tests.integration.conftest import apply_shop, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]


@pytest.fixture
def namespace(devcluster, devcluster_b):
    """The same new namespace in test-a and test-b, deleted (without waiting) afterwards."""
    name = f"two-clusters-{uuid.uuid4().hex[:8]}"
    for cluster in (devcluster, devcluster_b):
        cluster.kubectl("create", "namespace", name)
    yield name
    for cluster in (devcluster, devcluster_b):
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def registered(name: str, devcluster) -> Cluster:
    cluster = Cluster(name=name, labels={"region": "eu", "tier": "production"})
    cluster.set_credentials(Path(devcluster.kubeconfig("driftcontrol-scanner")).read_text())
    cluster.save()
    return cluster


def replicas(devcluster, namespace: str) -> tuple[str, int]:
    with devcluster.client() as api:
        web = client.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    return web.spec.template.spec.containers[0].image, web.spec.replicas


def test_a_policy_over_two_clusters_keeps_their_drift_apart_and_fixes_each(
    devcluster, devcluster_b, shop_repo, namespace, requester, approver, tasks,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    east, west = registered("east", devcluster), registered("west", devcluster_b)
    Cluster.objects.create(name="elsewhere", labels={"region": "us"})  # not selected
    source = GitSource.objects.create(name="shop", url=str(shop_repo.path), path="k8s")
    policy = DriftPolicy.objects.create(
        name="shop-production",
        source=source,
        cluster_selector={"matchLabels": {"region": "eu"}},
        default_namespace=namespace,
        namespaces={"include": [namespace], "exclude": []},
    )
    assert set(clusters.targets(policy).values_list("name", flat=True)) == {"east", "west"}
    apply_shop(devcluster, shop_repo, namespace)
    apply_shop(devcluster_b, shop_repo, namespace)
    devcluster.kubectl("set", "image", "-n", namespace, "deployment/web", "web=evil.example/w:6")
    devcluster_b.kubectl("scale", "-n", namespace, "deployment/web", "--replicas=7")

    for cluster in (east, west):
        scan(policy, cluster)
    drift = {f.cluster.name: f for f in policy.findings.open().select_related("cluster")}

    assert set(drift) == {"east", "west"}
    assert drift["east"].diff["paths"] == ["/spec/template/spec/containers/0/image"]
    assert drift["west"].diff["paths"] == ["/spec/replicas"]
    assert (drift["east"].severity, drift["west"].severity) == ("high", "medium")
    scores = {c.name: analytics.score(RollupScope.CLUSTER, c.pk).value for c in (east, west)}
    assert scores["east"] < scores["west"] < 100.0  # a high finding costs more than a medium

    for name in ("east", "west"):
        with django_capture_on_commit_callbacks(execute=True):
            request = services.request_remediation([drift[name]], "sync", requester)
        assert request.cluster.name == name
        with django_capture_on_commit_callbacks(execute=True):
            services.approve(request.pk, approver, f"fix {name}")
    queued = tasks.queued("remediation.execute")
    while queued:
        services.execute(queued.pop(0))

    for request in RemediationRequest.objects.all():
        assert request.status == RequestStatus.SUCCEEDED, (request.status_reason, request.result)
    declared = ("registry.example/shop/web:1.4.2", 2)
    assert replicas(devcluster, namespace) == replicas(devcluster_b, namespace) == declared
    for cluster in (east, west):
        scan(policy, cluster)
    assert not policy.findings.open().exists()
    assert {analytics.score(RollupScope.CLUSTER, c.pk).value for c in (east, west)} == {100.0}
