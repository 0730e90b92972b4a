"""Benchmark of the supply chain checks in a fleet scan (issue 17): 500 distinct images in
a real registry, each verified once; what a second scan adds.

Starts Debian's docker-registry with TLS (as the tests' oci_registry fixture does), pushes
500 small images, each signed (cosign's .sig tag, ECDSA P-256) and attested (SLSA v1, .att),
and deploys one Deployment per image, pinned by digest, to a namespace of the local API
server test-a, the same manifests in Git. A lane owns the namespace and requires signatures
by its key and provenance from one builder and repository; the registry's CA is stored.

Measured, in this process, as full scans (`scanning.request` and `scanning.run`: the
cluster, Git, the comparison, the alignment rules and the ledger's writes): the first scan
with the lane's supply terms (cold: every digest verified, counted per digest), a second
one (warm: nothing verified again), then warm scans alternating with warm scans of the
same 500 Deployments in a second namespace whose lane requires nothing (no registry at all;
each policy's scans find what its previous scan found). The images are pinned by digest,
so a warm scan resolves no tag and sends the registry no request at all.

The database driftcontrol_bench_supply is created afresh on each run (a fresh load), and
ANALYZEd after the cold scan. The namespaces are deleted and the registry stopped afterwards.

Run: .venv/bin/python bench/supply_scan.py [--images 500] [--runs 9] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import kubeconfig, kubectl
from tests.plugins import registry as test_registry
from tests.support import oci

NAME = "bench-supply"
NAMESPACE = "bench-supply"
PLAIN = "bench-supply-plain"  # the same workloads in a lane requiring nothing: the baseline
DATABASE = "driftcontrol_bench_supply"
BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
SOURCE = "https://github.com/acme/shop"
COMMIT = "9f2c1e0b7d4a3c5e6f708192a3b4c5d6e7f80912"
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    # Not DEBUG: Django would keep every query in memory, and a warm scan's cost is queries.
    "DEBUG": "0",
    "SECRET_KEY": "bench-" + "x" * 50,
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=",
    "GIT_LOCAL_ROOTS": tempfile.gettempdir(),
}


def publish(registry: Any, key: Any, count: int) -> list[str]:
    """``count`` distinct images, each signed and attested; their references by digest."""

    def one(index: int) -> str:
        host, ca, repository = registry.host, registry.ca_pem, f"bench/app-{index:03d}"
        content = f"bench supply image {index}".encode()
        digest = oci.push_image(host, ca, repository, "1.0", content=content)
        oci.sign(host, ca, repository, digest, key)
        statement = oci.slsa_v1(digest, BUILDER, SOURCE, COMMIT, level=3)
        oci.attest(host, ca, repository, digest, key, statement)
        return f"{host}/{repository}@{digest}"

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, range(count)))


def workloads(references: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"app-{index:03d}", "labels": {"app": f"a{index}"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": f"a{index}"}},
                "template": {
                    "metadata": {"labels": {"app": f"a{index}"}},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                },
            },
        }
        for index, image in enumerate(references)
    ]


def deploy(documents: list[dict[str, Any]], namespace_name: str = NAMESPACE) -> None:
    """The Deployments in a namespace (an earlier run's, still terminating, waited for)."""
    from drift import kube

    connection = kube.Kube(Path(kubeconfig("admin")).read_text())
    discovery = connection.discover()
    namespaces = discovery.find("v1", "Namespace")
    deployments = discovery.find("apps/v1", "Deployment")
    found = connection.get(namespaces, None, namespace_name)
    deadline = time.monotonic() + 600
    while found and (found.get("status") or {}).get("phase") == "Terminating":
        if time.monotonic() > deadline:
            sys.exit(f"namespace {namespace_name} is still terminating after 10 minutes")
        print(f"waiting for an earlier run's namespace {namespace_name} to be deleted", flush=True)
        time.sleep(5)
        found = connection.get(namespaces, None, namespace_name)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_name}}
    connection.apply(namespaces, namespace, "bench")

    def create(document: dict[str, Any]) -> None:
        body = {**document, "metadata": {**document["metadata"], "namespace": namespace_name}}
        connection.apply(deployments, body, "bench", force=True)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, documents))


def repository(documents: list[dict[str, Any]]) -> Path:
    repo = Path(tempfile.mkdtemp(prefix="bench-supply-")) / "deploy"
    (repo / "k8s").mkdir(parents=True)
    (repo / "k8s" / "deployments.yaml").write_text(yaml.safe_dump_all(documents))
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com"]
    for step in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run([*git, *step], check=True)
    return repo


def register(repo: Path, registry: Any, terms: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """The cluster, the policies (supply checked, plain), the lane and the registry's CA."""
    from alignment.models import RegistryCredential
    from drift.models import Cluster, DriftPolicy, GitSource, Lane

    cluster = Cluster(name=NAME)
    cluster.set_credentials(Path(kubeconfig("driftcontrol-scanner")).read_text())
    cluster.save()
    source = GitSource.objects.create(name=NAME, url=str(repo), ref="main", path="k8s")
    policy = DriftPolicy.objects.create(
        name=NAME,
        source=source,
        cluster_names=[NAME],
        default_namespace=NAMESPACE,
        namespaces={"include": [NAMESPACE], "exclude": []},
    )
    plain = DriftPolicy.objects.create(
        name=PLAIN, source=source, cluster_names=[NAME], default_namespace=PLAIN,
        namespaces={"include": [PLAIN], "exclude": []},
    )  # fmt: skip
    lane = Lane(name=NAME, namespaces=[NAMESPACE], supply=terms)
    lane.full_clean()
    lane.save()
    cluster.lanes.add(lane, Lane.objects.create(name=PLAIN, namespaces=[PLAIN]))
    RegistryCredential.objects.create(host=registry.host, ca_pem=registry.ca_pem)
    return policy, plain, cluster, lane


class Tally:
    """What one scan asked of the verifier, the registry and the database, and how long
    the supply checks themselves took (alignment.supply_chain.checks)."""

    def __init__(self) -> None:
        self.judged: Counter[str] = Counter()
        self.requests = self.queries = 0
        self.checking = 0.0

    @contextmanager
    def counting(self) -> Iterator[None]:
        from django.db import connection

        from alignment import supply_chain
        from alignment.registry import transport

        # The verifier by the name the service calls it, and the registry door's one way out.
        judge, checks, send = supply_chain.judge, supply_chain.checks, transport.Transport._send

        def judging(artifacts: Any, trust: Any) -> Any:
            self.judged[artifacts.digest] += 1
            return judge(artifacts, trust)

        def checking(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return checks(*args, **kwargs)
            finally:
                self.checking += time.perf_counter() - started

        def sending(door: Any, *args: Any, **kwargs: Any) -> Any:
            self.requests += 1
            return send(door, *args, **kwargs)

        def query(execute: Callable[..., Any], *args: Any) -> Any:
            self.queries += 1
            return execute(*args)

        supply_chain.judge, supply_chain.checks = judging, checking
        transport.Transport._send = sending
        try:
            with connection.execute_wrapper(query):
                yield
        finally:
            supply_chain.judge, supply_chain.checks = judge, checks
            transport.Transport._send = send


def full_scan(policy: Any, cluster: Any, tally: Tally | None = None) -> float:
    """One scan as a worker runs it; its wall time. Exits when it does not succeed."""
    from drift.services import scanning

    tally = tally or Tally()
    started = time.perf_counter()
    with tally.counting():
        queued, _ = scanning.request(policy, cluster, enqueue=False)
        done = scanning.run(queued.pk)
    elapsed = time.perf_counter() - started
    if done is None or done.status != "succeeded" or done.partial:
        sys.exit(f"scan failed: {done.error if done else 'not run'} {done and done.problems}")
    return elapsed


def states(policy: Any) -> str:
    from django.db.models import Count

    from alignment.models import ImageUse

    found = ImageUse.objects.filter(policy=policy).values_list("state").annotate(n=Count("id"))
    return ", ".join(f"{n} {state}" for state, n in sorted(found))


def cold_then_warm(policy: Any, cluster: Any, images: int) -> float:
    """Scan 1 (every digest verified) and scan 2 (none); the cold scan's seconds."""
    from alignment.models import ImageVerification

    cold = Tally()
    seconds = full_scan(policy, cluster, cold)
    rows = {(v.digest, v.verified_at) for v in ImageVerification.objects.all()}
    once = len(cold.judged) == images and set(cold.judged.values()) == {1}
    print(
        f"scan 1 (cold cache): {seconds:.2f} s; {sum(cold.judged.values())} verifications of "
        f"{len(cold.judged)} distinct digests (each exactly once: {'yes' if once else 'NO'}); "
        f"{cold.requests} registry requests; {len(rows)} ImageVerification rows created; "
        f"{cold.queries} queries; images: {states(policy)}"
    )
    warm = Tally()
    second = full_scan(policy, cluster, warm)
    unchanged = {(v.digest, v.verified_at) for v in ImageVerification.objects.all()} == rows
    print(
        f"scan 2 (warm): {second:.2f} s; {sum(warm.judged.values())} verifications; "
        f"{warm.requests} registry requests (pinned by digest: no tag to resolve); "
        f"ImageVerification rows unchanged: {'yes' if unchanged else 'NO'}; "
        f"{warm.queries} queries; images: {states(policy)}"
    )
    return seconds


def alternate(policy: Any, plain: Any, cluster: Any, runs: int) -> None:
    """Warm supply scans alternating with warm scans of the same workloads in a lane that
    requires nothing (each policy's scans find what its last found), then the figures."""
    timed: dict[str, list[float]] = {"with supply checks": [], "without": []}
    tallies: dict[str, Tally] = {mode: Tally() for mode in timed}
    findings: dict[str, set[int]] = {mode: set() for mode in timed}
    for _ in range(runs):
        for mode, times in timed.items():
            scanned = policy if mode == "with supply checks" else plain
            times.append(full_scan(scanned, cluster, tallies[mode]))
            findings[mode].add(scanned.findings.open().count())
    medians = {mode: median(times) for mode, times in timed.items()}
    for mode, times in timed.items():
        tally = tallies[mode]
        print(
            f"  full scan {mode}: median {medians[mode]:.2f} s (best {min(times):.2f}, worst "
            f"{max(times):.2f}) over {runs} alternating runs; per scan "
            f"{sum(tally.judged.values()) / runs:.0f} verifications, "
            f"{tally.requests / runs:.0f} registry requests, {tally.queries / runs:.0f} queries, "
            f"supply checks {tally.checking / runs * 1000:.0f} ms; open findings "
            f"{sorted(findings[mode])}"
        )
    with_, without = timed["with supply checks"], timed["without"]
    print(
        f"  second scan adds {medians['with supply checks'] / medians['without'] - 1:.1%} over a "
        f"scan without supply checks at the median ({min(with_) / min(without) - 1:.1%} best "
        f"against best, {max(with_) / max(without) - 1:.1%} worst against worst); target: "
        "under 5%"
    )


def profile_warm(policy: Any, cluster: Any) -> None:
    """Where a warm scan's time goes, in the supply chain's modules (cProfile)."""
    profiler = cProfile.Profile()
    profiler.enable()
    full_scan(policy, cluster)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"alignment/(supply_chain|image_uses|rules/supply|supply/verdict)", 25)
    stats.print_callees(r"supply_chain.py:\d+\(evidence\)")
    print("profile of one warm scan (cumulative):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def conditions() -> str:
    return (
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; Django's DEBUG off; "
        "the shared local API server and PostgreSQL may serve other sessions meanwhile"
    )


def fresh_database() -> None:
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DATABASE])
    from bench.common import setup_django

    setup_django(DATABASE)


def measure(images: int, runs: int, profile: bool) -> None:
    fresh_database()
    directory = Path(tempfile.mkdtemp(prefix="bench-supply-registry-"))
    registry = test_registry.launch(directory)
    try:
        key = oci.ecdsa_key()
        started = time.monotonic()
        references = publish(registry, key, images)
        pushed = time.monotonic() - started
        documents = workloads(references)
        deploy(documents)
        deploy(documents, PLAIN)
        print(
            f"set-up (not measured): {images} images pushed, signed and attested in "
            f"{pushed:.0f} s (16 threads); {images} Deployments applied in "
            f"{time.monotonic() - started - pushed:.0f} s"
        )
        builders = [{"id": BUILDER, "minLevel": 3}]
        provenance = {"required": True, "builders": builders, "sourceRepositories": [SOURCE]}
        signers = [{"name": "release", "key": oci.public_pem(key)}]
        terms = {"requireDigest": True, "signers": signers, "provenance": provenance}
        policy, plain, cluster, _ = register(repository(documents), registry, terms)
        run_scans(policy, plain, cluster, images, runs, profile)
    finally:
        registry.stop()
        shutil.rmtree(directory, ignore_errors=True)
        kubectl("delete", "namespace", NAMESPACE, PLAIN, "--wait=false", "--ignore-not-found")


def run_scans(policy: Any, plain: Any, cluster: Any, images: int, runs: int, profile: bool) -> None:
    from django.db import connection

    # The plain policy's first scan reads Git (the same source) and opens its findings.
    first = full_scan(plain, cluster)
    print(f"conditions: fresh database (created for this run); {conditions()}")
    print(f"first scan of the same workloads in a plain lane (not measured): {first:.2f} s")
    cold = cold_then_warm(policy, cluster, images)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"after ANALYZE, alternating ({conditions()}):")
    alternate(policy, plain, cluster, runs)
    baseline = [full_scan(plain, cluster) for _ in range(3)]
    print(
        f"  the cold scan costs {cold - median(baseline):.2f} s more than a scan without "
        f"supply checks (median of 3 more: {median(baseline):.2f} s), "
        f"{(cold - median(baseline)) / images * 1000:.1f} ms per image verified; "
        f"at the end: {conditions()}"
    )
    if profile:
        profile_warm(policy, cluster)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--profile", action="store_true", help="profile one warm scan")
    options = parser.parse_args()
    if not test_registry.BINARY.exists():
        sys.exit(f"{test_registry.BINARY} is missing: scripts/services ensure installs it")
    os.environ.update(ENV)
    measure(options.images, options.runs, options.profile)


if __name__ == "__main__":
    main()
