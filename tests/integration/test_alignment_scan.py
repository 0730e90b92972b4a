"""Alignment rules in a real scan: a live edit that makes a Deployment name a ConfigMap
that does not exist is an `alignment` finding next to the drift, and it resolves when the
ConfigMap appears; a watch event on the Deployment never resolves it."""

from __future__ import annotations

import json

import pytest

from drift.engine.normalize import ObjectKey
from drift.models import FindingStatus, FindingType, Lane
from drift.services import ledger
from tests.integration.conftest import apply_shop, findings, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
ENV_FROM = "/spec/template/spec/containers/0/envFrom"


def test_a_reference_broken_live_is_found_and_resolves_when_it_exists(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    ns = kube_namespace
    apply_shop(devcluster, shop_repo, ns)
    patch = [{"op": "add", "path": ENV_FROM, "value": [{"configMapRef": {"name": "flags"}}]}]
    devcluster.kubectl(
        "patch", "-n", ns, "deployment", "web", "--type=json", "-p", json.dumps(patch)
    )

    broken = scan(shop_policy, scanner_cluster)

    # The added field is not Git's (the policy ignores undeclared fields by default), but
    # what it names must exist.
    found = findings(shop_policy)
    assert set(found) == {("Deployment", "web", FindingType.ALIGNMENT)}
    alignment = found["Deployment", "web", FindingType.ALIGNMENT]
    assert (alignment.rule, alignment.severity, alignment.last_scan_id) == (
        "refs.configmap",
        "high",
        broken.pk,
    )
    assert alignment.diff["message"] == (
        f"Deployment.apps {ns}/web names ConfigMap flags, which does not exist in namespace {ns}"
    )
    assert alignment.diff["paths"] == [f"{ENV_FROM}/0/configMapRef/name"]
    assert alignment.source == "k8s/shop.yaml:3"  # where Git declares the Deployment

    # A watch event compares one object with Git: it cannot tell about references.
    ledger.record(
        shop_policy,
        scanner_cluster,
        [],
        known=lambda key: True,
        resolve_scope=[ObjectKey("apps", "Deployment", ns, "web")],
    )
    alignment.refresh_from_db()
    assert alignment.status == FindingStatus.OPEN

    devcluster.kubectl("create", "configmap", "flags", "-n", ns, "--from-literal=beta=on")
    scan(shop_policy, scanner_cluster)

    alignment.refresh_from_db()
    assert (alignment.status, alignment.status_reason) == (FindingStatus.RESOLVED, "no longer seen")


def test_an_image_from_outside_the_lanes_registries_is_a_lane_finding(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    ns = kube_namespace
    lane = Lane.objects.create(
        name="controlled",
        namespaces=[ns],
        registries=[
            "registry.example/",
            "gcr.io/google-samples/",
            "ghcr.io/stefanprodan/",
            "docker.io/library/",
        ],
    )
    scanner_cluster.lanes.add(lane)
    apply_shop(devcluster, shop_repo, ns)
    assert scan(shop_policy, scanner_cluster) and findings(shop_policy) == {}

    devcluster.kubectl("set", "image", "-n", ns, "deployment/web", "web=evil.example/web:6.6.6")
    scan(shop_policy, scanner_cluster)

    found = findings(shop_policy)
    assert set(found) == {
        ("Deployment", "web", FindingType.MODIFIED),
        ("Deployment", "web", FindingType.ALIGNMENT),
    }
    alignment = found["Deployment", "web", FindingType.ALIGNMENT]
    assert (alignment.rule, alignment.severity) == ("lane.registry", "high")
    assert (
        "runs evil.example/web:6.6.6, from outside the lane's registries"
        in (alignment.diff["message"])
    )


def test_drift_scan_reports_alignment_findings_with_their_rule(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    from drift.declarative.reports import drift_report

    apply_shop(devcluster, shop_repo, kube_namespace)
    patch = [{"op": "add", "path": ENV_FROM, "value": [{"configMapRef": {"name": "flags"}}]}]
    devcluster.kubectl(
        "patch", "-n", kube_namespace, "deployment", "web", "--type=json", "-p", json.dumps(patch)
    )

    report = drift_report(scan(shop_policy, scanner_cluster))

    aligned = [f for f in report["status"]["findings"] if f["type"] == "alignment"]
    assert [(f["rule"], f["name"]) for f in aligned] == [("refs.configmap", "web")]
    assert aligned[0]["message"].endswith(
        f"names ConfigMap flags, which does not exist in namespace {kube_namespace}"
    )


def test_the_policys_severity_rules_rank_alignment_findings(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    shop_policy.severity_rules = [{"rules": ["refs.*"], "level": "low"}]
    shop_policy.save()
    apply_shop(devcluster, shop_repo, kube_namespace)
    patch = [{"op": "add", "path": ENV_FROM, "value": [{"configMapRef": {"name": "flags"}}]}]
    devcluster.kubectl(
        "patch", "-n", kube_namespace, "deployment", "web", "--type=json", "-p", json.dumps(patch)
    )

    scan(shop_policy, scanner_cluster)

    alignment = findings(shop_policy)["Deployment", "web", FindingType.ALIGNMENT]
    assert (alignment.rule, alignment.severity) == ("refs.configmap", "low")


def test_a_rule_broken_in_git_first_is_its_own_finding_until_the_cluster_runs_it(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    ns = kube_namespace
    apply_shop(devcluster, shop_repo, ns)
    shop = shop_repo.path / "k8s" / "shop.yaml"
    shop.write_text(
        shop.read_text().replace(
            "        env:\n        - {name: MODE, value: production}",
            "        envFrom:\n        - configMapRef: {name: flags}\n"
            "        env:\n        - {name: MODE, value: production}",
            1,
        )
    )
    shop_repo.commit("web reads its flags from a ConfigMap nobody created")

    scan(shop_policy, scanner_cluster)

    (in_git,) = shop_policy.findings.open().filter(type=FindingType.ALIGNMENT)
    assert (in_git.rule, in_git.name, in_git.diff["state"]) == ("refs.configmap", "web", "desired")
    assert in_git.diff["message"] == (
        f"Git declares it: Deployment.apps {ns}/web names ConfigMap flags, which does not "
        f"exist in namespace {ns}"
    )
    assert in_git.source == "k8s/shop.yaml:3"

    # Deployed as it is: the cluster runs the violation; one finding says so, the Git one ends.
    apply_shop(devcluster, shop_repo, ns)
    scan(shop_policy, scanner_cluster)

    (live,) = shop_policy.findings.open().filter(type=FindingType.ALIGNMENT)
    assert (live.rule, live.diff["state"]) == ("refs.configmap", "live") and live.pk != in_git.pk
    in_git.refresh_from_db()
    assert in_git.status == FindingStatus.RESOLVED

    devcluster.kubectl("create", "configmap", "flags", "-n", ns, "--from-literal=beta=on")
    scan(shop_policy, scanner_cluster)
    assert not shop_policy.findings.open().filter(type=FindingType.ALIGNMENT).exists()
