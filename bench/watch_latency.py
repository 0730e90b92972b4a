"""Benchmark 3: detection latency through the watcher, from a live change to its finding row.

Applies the shop to a namespace of the local API server, starts the watcher in this
process, then changes the image of a Deployment CHANGES times (alternating between a
drifted and the declared image, so findings open and resolve) and measures, for each
change that opens a finding, the seconds from the moment the change is sent (kubectl
started) to the moment the finding row is visible in PostgreSQL. Prints p50, p95 and max.
Target: p95 under 5 s (the concept this product comes from asked for 2 minutes).

Run: .venv/bin/python bench/watch_latency.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, SHOP, kubeconfig, kubectl, setup_django

CHANGES = 60


def _shop_in_git(namespace: str) -> Path:
    """A Git repository holding the shop and podinfo, applied to the namespace."""
    kubectl("create", "namespace", namespace)
    repo = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    (repo / "k8s").mkdir()
    subprocess.run(["cp", "-r", str(CORPUS / "podinfo"), str(SHOP), str(repo / "k8s")], check=True)
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True)
    kubectl("apply", "-n", namespace, "-R", "-f", str(repo / "k8s"))
    return repo


def _policy(repo: Path, namespace: str) -> Any:
    """A fresh cluster, source and policy named bench-watch, scanning the namespace."""
    from drift.models import Cluster, DriftPolicy, GitSource

    DriftPolicy.objects.filter(name="bench-watch").delete()
    GitSource.objects.filter(name="bench-watch").delete()
    Cluster.objects.filter(name="bench-watch").delete()
    cluster = Cluster(name="bench-watch")
    cluster.set_credentials(Path(kubeconfig("driftcontrol-scanner")).read_text())
    cluster.save()
    source = GitSource.objects.create(name="bench-watch", url=str(repo), path="k8s")
    return DriftPolicy.objects.create(
        name="bench-watch",
        source=source,
        cluster_names=["bench-watch"],
        default_namespace=namespace,
        namespaces={"include": [namespace], "exclude": []},
    )


def _measure(policy: Any, namespace: str) -> list[float]:
    """Seconds from each drifting change to its open finding (undoing every other one)."""
    latencies = []
    for change in range(CHANGES):
        drifted = change % 2 == 0
        image = f"evil.example/web:{change}" if drifted else "registry.example/shop/web:1.4.2"
        # Timed from before the change is sent: an upper bound that includes starting
        # kubectl and the API server's own write.
        accepted = time.monotonic()
        kubectl("set", "image", "-n", namespace, "deployment/web", f"web={image}")
        while time.monotonic() - accepted < 30:
            if policy.findings.open().filter(name="web").exists() == drifted:
                break
            time.sleep(0.02)
        else:
            raise SystemExit(f"change {change}: the ledger did not follow within 30 s")
        if drifted:
            latencies.append(time.monotonic() - accepted)
    return sorted(latencies)


def main() -> None:
    setup_django()
    from drift.services.watching import Settings, Watcher

    namespace = f"bench-watch-{uuid.uuid4().hex[:6]}"
    policy = _policy(_shop_in_git(namespace), namespace)
    watcher = Watcher(Settings(reconcile_seconds=1.0))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    assert watcher.ready.wait(60), "the watcher did not start"
    time.sleep(2.0)
    try:
        latencies = _measure(policy, namespace)
    finally:
        watcher.stop()
        thread.join(10)
        kubectl("delete", "namespace", namespace, "--wait=false")
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"changes measured: {len(latencies)} (each also undone and seen resolved)")
    print(
        f"latency from change to finding: p50 {statistics.median(latencies):.2f} s, "
        f"p95 {p95:.2f} s, max {latencies[-1]:.2f} s (target p95 < 5 s)"
    )


if __name__ == "__main__":
    main()
