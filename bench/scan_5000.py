"""Benchmark 4: a full scan of 5,000 objects on the local API server: seconds and memory.

Creates 5,000 objects in one namespace (2,500 ConfigMaps, 1,250 Services, 1,250
Deployments, each Deployment reading its ConfigMap and selected by its Service), the same
manifests in a Git repository, then runs
`manage.py drift scan` in a child process and reports its wall time and peak resident
memory (the child's own high-water mark, not this process's). Side by side, what alignment
adds: the scan's comparison of the same objects with and without the alignment room,
alternating in this process. The
namespace is deleted afterwards: 1,250 Deployments keep the shared test-a's controller
manager busy, and the test suite waits on it.

Run: .venv/bin/python bench/scan_5000.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, kubeconfig, kubectl, setup_django

# "-refs": its Deployments read their ConfigMaps since the alignment rules.
NAMESPACE = "bench-scan-5000-refs"
COUNTS = {"ConfigMap": 2500, "Service": 1250, "Deployment": 1250}


def manifests() -> list[dict]:
    found: list[dict] = []
    for index in range(COUNTS["ConfigMap"]):
        found.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"settings-{index}", "labels": {"app": f"a{index}"}},
                "data": {"mode": "production", "index": str(index), "payload": "x" * 200},
            }
        )
    for index in range(COUNTS["Service"]):
        found.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc-{index}"},
                "spec": {
                    "selector": {"app": f"a{index}"},
                    # Headless: the local cluster's service IP range is too small for
                    # 1,250 addresses. 1.20's server-side apply needs every port's protocol.
                    "clusterIP": "None",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                },
            }
        )
    for index in range(COUNTS["Deployment"]):
        found.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"app-{index}", "labels": {"app": f"a{index}"}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": f"a{index}"}},
                    "template": {
                        "metadata": {"labels": {"app": f"a{index}"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": f"example/app:{index}",
                                    "env": [{"name": "INDEX", "value": str(index)}],
                                    "envFrom": [{"configMapRef": {"name": f"settings-{index}"}}],
                                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                    "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                                }
                            ]
                        },
                    },
                },
            }
        )
    return found


def ensure_objects(admin_kubeconfig: str, documents: list[dict]) -> None:
    from drift import kube

    connection = kube.Kube(Path(admin_kubeconfig).read_text())
    discovery = connection.discover()
    namespaces = discovery.find("v1", "Namespace")
    found = connection.get(namespaces, None, NAMESPACE)
    if found is not None and (found.get("status") or {}).get("phase") == "Terminating":
        print(f"waiting for an earlier run's namespace {NAMESPACE} to be deleted", flush=True)
        deadline = time.monotonic() + 600
        while found is not None and time.monotonic() < deadline:
            time.sleep(5)
            found = connection.get(namespaces, None, NAMESPACE)
    if found is None:
        connection.apply(
            namespaces,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            "bench",
        )
    kinds = {"ConfigMap": "v1", "Service": "v1", "Deployment": "apps/v1"}
    existing = {
        kind: sum(
            len(page.items)
            for page in connection.pages(discovery.find(api_version, kind), NAMESPACE)
        )
        for kind, api_version in kinds.items()
    }
    if all(existing[kind] >= COUNTS[kind] for kind in kinds):
        print("objects already there (an earlier run left them): not created anew")
        return
    started = time.monotonic()

    def create(document: dict) -> None:
        body = {**document, "metadata": {**document["metadata"], "namespace": NAMESPACE}}
        connection.apply(
            discovery.find(document["apiVersion"], document["kind"]), body, "bench", force=True
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, documents))
    print(f"created {len(documents)} objects in {time.monotonic() - started:.0f} s")


def main() -> None:
    setup_django()
    from drift.models import Cluster, DriftPolicy, GitSource

    documents = manifests()
    ensure_objects(kubeconfig("admin"), documents)
    repo = Path(tempfile.mkdtemp(prefix="bench-5000-"))
    (repo / "k8s").mkdir()
    for kind in COUNTS:
        (repo / "k8s" / f"{kind.lower()}s.yaml").write_text(
            yaml.safe_dump_all([d for d in documents if d["kind"] == kind])
        )
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com"]
    for step in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run([*git, *step], check=True)

    DriftPolicy.objects.filter(name="bench-5000").delete()
    GitSource.objects.filter(name="bench-5000").delete()
    Cluster.objects.filter(name="bench-5000").delete()
    cluster = Cluster(name="bench-5000")
    cluster.set_credentials(Path(kubeconfig("driftcontrol-scanner")).read_text())
    cluster.save()
    source = GitSource.objects.create(name="bench-5000", url=str(repo), path="k8s")
    DriftPolicy.objects.create(
        name="bench-5000",
        source=source,
        cluster_names=["bench-5000"],
        default_namespace=NAMESPACE,
        namespaces={"include": [NAMESPACE], "exclude": []},
    )

    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "manage.py", "drift", "scan", "bench-5000", "--output", "json"],
        cwd=ROOT,
        # The repository is a local path: the server reads those only under GIT_LOCAL_ROOTS.
        env={**os.environ, "GIT_LOCAL_ROOTS": str(repo.parent)},
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = json.loads(child.stdout)
    if report["status"]["phase"] != "Complete":
        sys.exit(f"the scan did not complete: {report['status']['reason']}")
    print(
        f"objects: {report['status']['objects']}; findings: "
        f"{report['status']['summary']['total']}; phase {report['status']['phase']}"
    )
    print(
        f"full scan of {sum(COUNTS.values())} objects: {elapsed:.1f} s wall (process start "
        f"included), peak memory {peak_mb:.0f} MB"
    )
    from django.conf import settings

    settings.GIT_LOCAL_ROOTS = [str(repo.parent)]  # as for the child above
    alignment(DriftPolicy.objects.get(name="bench-5000"), cluster)
    kubectl("delete", "namespace", NAMESPACE, "--wait=false")


def alignment(policy, cluster) -> None:  # type: ignore[no-untyped-def]
    """The scan's comparison of the same 5,000 objects with and without the alignment
    room, alternating in this process (reads from the cluster included, Git read once):
    what alignment adds, with nothing drifted, then with one Deployment edited live (Git's
    side is then judged too). Its lane has deployer identities, registries, allowances and
    a required default-deny NetworkPolicy, and the cluster an audit feed token, so every
    part runs (the guardrails' reads, the audit feed's queries)."""
    from alignment import audit_feed
    from alignment.models import KubeWrite
    from drift.models import Lane
    from drift.services import clusters, desired

    Lane.objects.filter(name="bench-5000").delete()
    lane = Lane.objects.create(
        name="bench-5000",
        namespaces=[NAMESPACE],
        identities=["admin", "bench"],
        registries=["docker.io/example/"],
        secrets=["app-*"],
        service_accounts=["default"],
        requires={"defaultDenyNetworkPolicy": True},
    )
    cluster.lanes.add(lane)
    audit_feed.adopt_token(cluster, "bench-token-0123456789abcdef", "system:bench")
    connection = clusters.connect(cluster)
    discovery = connection.discover()
    revision = desired.read_revision(policy.source)
    writes = KubeWrite.objects.filter(cluster=cluster).count()
    print(
        "conditions: one lane owning the namespace with deployer identities, registries, "
        "Secret and service account allowances and a required default-deny NetworkPolicy; "
        f"an audit feed token ({writes} writes recorded); load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the local controller manager "
        "reconciles the 1,250 Deployments meanwhile)"
    )
    examine = (policy, connection, discovery, revision, lambda *a, **k: None, cluster)
    side_by_side("nothing drifted (Git's side not judged again)", examine)
    kubectl("set", "image", "-n", NAMESPACE, "deployment/app-0", "app=example/app:hotfix")
    side_by_side("one Deployment drifted (Git's side judged too)", examine)


def side_by_side(phase: str, examine: tuple, runs: int = 9) -> None:  # type: ignore[type-arg]
    from drift.services import scanning

    rooms = scanning.app_modules
    timed: dict[str, list[float]] = {"with alignment": [], "without": []}
    found = 0
    try:
        for _ in range(runs):
            for mode, times in timed.items():
                scanning.app_modules = rooms if mode == "with alignment" else (lambda name: [])
                started = time.perf_counter()
                examined = scanning.examine(*examine)
                times.append(time.perf_counter() - started)
                if mode == "with alignment":
                    found = sum(1 for o in examined.observations if o.type == "alignment")
    finally:
        scanning.app_modules = rooms
    medians = {mode: sorted(times)[runs // 2] for mode, times in timed.items()}
    print(f"{phase}:")
    for mode, times in timed.items():
        print(
            f"  comparison {mode}: median {medians[mode]:.2f} s (best {min(times):.2f}, "
            f"worst {max(times):.2f}) over {runs} alternating runs"
        )
    with_, without = timed["with alignment"], timed["without"]
    print(
        f"  alignment adds {medians['with alignment'] / medians['without'] - 1:.0%} at the "
        f"median ({min(with_) / min(without) - 1:.0%} best against best, "
        f"{max(with_) / max(without) - 1:.0%} worst against worst); {found} alignment "
        "observations; target: at most 30%"
    )


if __name__ == "__main__":
    main()
