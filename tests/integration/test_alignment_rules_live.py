"""Every reference and lane rule on the local API server: manifests a team writes, applied
with kubectl and scanned through the real scan. The shop with every reference resolving
gives no alignment finding; one mistake per rule gives exactly one finding of that rule
(tests/integration/manifests/rules/); the real-world corpus, deployed into one lane set
up as its owner would, gives none of `refs.*` or `lane.*`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from alignment import rules
from drift import kube
from drift.models import Cluster, DriftPolicy, FindingType, GitSource, Lane
from tests.integration.conftest import CORPUS, GitRepo, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
MANIFESTS = Path(__file__).resolve().parent / "manifests" / "rules"
WORKLOAD_KINDS = (
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
    "ReplicationController",
)  # fmt: skip

# (rule, kind, name) of each violation broken.yaml holds, with what its message says.
VIOLATIONS = {
    ("refs.configmap", "Deployment", "reports-ui"): "names ConfigMap shop-reports-settings",
    ("refs.secret", "Deployment", "payments"): "names Secret shop-psp-key",
    ("refs.service-account", "Deployment", "mailer"): "names ServiceAccount shop-mailer",
    ("refs.claim", "StatefulSet", "search"): "names PersistentVolumeClaim shop-search-index",
    ("refs.service-selector", "Service", "checkout"): "selects app=checkout: no workload",
    ("refs.ingress-backend", "Ingress", "admin"): "names Service admin-ui",
    ("refs.hpa-target", "HorizontalPodAutoscaler", "worker"): "names Deployment worker",
    ("refs.role", "RoleBinding", "auditors"): "names Role auditor",
    ("refs.subject", "RoleBinding", "release-bot"): "names ServiceAccount shop-release-bot",
    ("refs.selects-nothing", "PodDisruptionBudget", "redis"): "selects no pod",
    ("refs.selects-nothing", "NetworkPolicy", "legacy-from-office"): "selects no pod",
    # Reported on the fast namespace's first object the scan read: the ConfigMap the
    # controller manager publishes in every namespace.
    ("lane.namespace", "ConfigMap", "kube-root-ca.crt"): "is claimed by lanes canary, fast",
    ("lane.secret", "Deployment", "exporter"): "uses Secret fast-token, which belongs to lane fast",
    ("lane.service-account", "Deployment", "image-sync"): (
        "uses ServiceAccount builder, which is not among lane controlled's"
    ),
    ("lane.registry", "Deployment", "debug"): "runs quay.io/someone/debug-tools:latest",
    ("lane.binding", "RoleBinding", "fast-ci"): "grants User ci-fast of lane fast",
}


def alignment_findings(policy: DriftPolicy) -> dict[tuple[str, str, str], str]:
    """Open alignment findings: (rule, kind, name) -> message."""
    found = policy.findings.open().filter(type=FindingType.ALIGNMENT)
    return {(f.rule, f.kind, f.name): f.diff["message"] for f in found}


def repository(path: Path, fast: str, *files: str) -> GitRepo:
    """A Git repository with the named manifests under k8s/ (the fast lane's namespace
    filled in), committed."""
    repo = GitRepo(path)
    for name in files:
        text = (MANIFESTS / name).read_text().replace("FAST_NAMESPACE", fast)
        repo.write(f"k8s/{name}", text)
    repo.git("init", "-q", "-b", "main")
    repo.commit("the shop and the fast lane's API")
    return repo


def policy_for(repo: GitRepo, *namespaces: str, **options: object) -> DriftPolicy:
    source = GitSource.objects.create(name="shop", url=str(repo.path), ref="main", path="k8s")
    return DriftPolicy.objects.create(
        name="shop",
        source=source,
        cluster_names=["test-a"],
        default_namespace=namespaces[0],
        namespaces={"include": list(namespaces), "exclude": []},
        **options,
    )


def deploy(devcluster, repo: GitRepo, controlled: str, fast: str) -> None:
    """kubectl apply, as the lanes' deployer (admin): the fast lane's file carries its
    namespace, the shop's files are applied to the controlled namespace."""
    shop = [f"-f={path}" for path in sorted((repo.path / "k8s").glob("*.yaml"))]
    fast_file = [arg for arg in shop if arg.endswith("/fast.yaml")]
    devcluster.kubectl("apply", "-n", fast, *fast_file)
    devcluster.kubectl("apply", "-n", controlled, *[a for a in shop if a not in fast_file])


def lanes(cluster: Cluster, controlled: str, fast: str) -> None:
    """Two lanes on the cluster, as their owners set them up."""
    for lane in (
        Lane(
            name="controlled",
            namespaces=[controlled],
            identities=["admin", "ci-controlled"],
            registries=["registry.example.com/shop/", "docker.io/library/"],
            service_accounts=["shop-*", "default"],
            secrets=["shop-*"],
        ),
        Lane(
            name="fast",
            namespaces=[fast],
            identities=["ci-fast"],
            registries=["registry.example.com/fast/"],
            service_accounts=["api"],
            secrets=["fast-*"],
        ),
    ):
        lane.full_clean()
        lane.save()
        cluster.lanes.add(lane)


def test_the_shop_with_every_reference_resolving_gives_no_alignment_finding(
    tmp_path, devcluster, scanner_cluster, kube_namespace, make_kube_namespace
):
    controlled, fast = kube_namespace, make_kube_namespace(prefix="fast")
    repo = repository(tmp_path / "deploy", fast, "shop.yaml", "fast.yaml")
    policy = policy_for(repo, controlled, fast)
    lanes(scanner_cluster, controlled, fast)
    deploy(devcluster, repo, controlled, fast)

    ran = scan(policy, scanner_cluster)

    # The same shop with broken.yaml next to it breaks every rule (below): these judged.
    assert alignment_findings(policy) == {}
    assert (ran.objects_desired, ran.partial) == (27, False)


def test_each_reference_and_lane_rule_fires_on_its_violation(
    tmp_path, devcluster, scanner_cluster, kube_namespace, make_kube_namespace
):
    controlled, fast = kube_namespace, make_kube_namespace(prefix="fast")
    repo = repository(tmp_path / "deploy", fast, "shop.yaml", "fast.yaml", "broken.yaml")
    policy = policy_for(repo, controlled, fast)
    lanes(scanner_cluster, controlled, fast)
    # A canary lane someone set up for the fast namespace too.
    scanner_cluster.lanes.add(
        Lane.objects.create(name="canary", namespaces=[fast], identities=["ci-canary"])
    )
    deploy(devcluster, repo, controlled, fast)

    scan(policy, scanner_cluster)

    found = alignment_findings(policy)
    assert set(found) == set(VIOLATIONS)
    for violation, words in VIOLATIONS.items():
        assert words in found[violation], (violation, found[violation])
    covered = {rule for rule, _, _ in VIOLATIONS}
    assert covered == {r for r in rules.RULES if r.startswith(("refs.", "lane."))} - {
        "lane.deployer",  # test_audit_deployer.py: it needs the API server's audit feed
        "lane.break-glass",  # admission raises it, never a scan
    }


def test_the_corpus_deployed_into_one_lane_breaks_no_reference_or_lane_rule(
    tmp_path, devcluster, scanner_cluster, kube_namespace
):
    repo = GitRepo(tmp_path / "corpus")
    for project in ("microservices-demo", "podinfo"):
        shutil.copytree(CORPUS / project, repo.path / "k8s" / project)
    repo.git("init", "-q", "-b", "main")
    repo.commit("the corpus, as published")
    # Reading the namespace's workloads and what pods name (not only the kinds Git
    # declares) lets every reference rule judge: the selector rules need every workload
    # kind read.
    kinds = [*WORKLOAD_KINDS, "Service", "NetworkPolicy", "HorizontalPodAutoscaler"]
    kinds += ["ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim"]
    policy = policy_for(
        repo, kube_namespace, detect_unmanaged=True, kinds={"include": kinds, "exclude": []}
    )
    lane = Lane(
        name="shop",
        namespaces=[kube_namespace],
        identities=["admin"],
        registries=["gcr.io/google-samples/microservices-demo/", "ghcr.io/stefanprodan/"]
        + ["docker.io/library/"],
        service_accounts=["default"],
        secrets=["shop-*"],
    )
    lane.full_clean()
    lane.save()
    scanner_cluster.lanes.add(lane)
    devcluster.kubectl("apply", "-n", kube_namespace, "-R", "-f", str(repo.path / "k8s"))

    scan(policy, scanner_cluster)

    assert alignment_findings(policy) == {}
    assert policy.findings.open().count() == 0

    # The rules did judge: without redis-cart's pods, its Service and NetworkPolicy
    # select nothing (foreground: its ReplicaSet, whose template selects them too, is gone).
    devcluster.kubectl(
        "delete", "-n", kube_namespace, "deployment", "redis-cart", "--cascade=foreground"
    )
    scan(policy, scanner_cluster)

    assert set(alignment_findings(policy)) == {
        ("refs.service-selector", "Service", "redis-cart"),
        ("refs.selects-nothing", "NetworkPolicy", "redis-cart"),
    }


def test_discovery_lists_a_kind_its_groups_preferred_version_lacks(devcluster):
    # On 1.20, batch prefers v1 and serves CronJobs in v1beta1 only: a policy reading every
    # kind of its namespaces must list them, or the selector rules cannot judge.
    served = kube.Kube(Path(devcluster.kubeconfig("admin")).read_text()).discover()

    listable = {(r.group, r.kind): r.api_version for r in served.listable()}
    assert listable["batch", "CronJob"] == "batch/v1beta1"
    assert listable["batch", "Job"] == "batch/v1"
