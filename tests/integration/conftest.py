"""Fixtures for detection tests: a real Git repository holding the corpus, a namespace on
the local API server with the same objects applied, and the policy connecting the two."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from drift import kube
from drift.engine.apply_form import apply_form
from drift.models import Cluster, DriftPolicy, GitSource, Scan
from drift.services import desired, scanning, schemas
from drift.services.watching import Settings, Watcher

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
SHOP = Path(__file__).resolve().parent / "manifests" / "shop.yaml"
CHECKOUT = Path(__file__).resolve().parent / "manifests" / "checkout.yaml"


@dataclass
class GitRepo:
    path: Path

    def git(self, *args: str) -> str:
        return subprocess.run(
            [
                "git",
                "-C",
                str(self.path),
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.com",
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def shop_repo(tmp_path: Path) -> GitRepo:
    """A repository with the corpus and shop.yaml under k8s/."""
    repo = GitRepo(tmp_path / "deploy")
    (repo.path / "k8s").mkdir(parents=True)
    shutil.copytree(CORPUS / "podinfo", repo.path / "k8s" / "podinfo")
    shutil.copytree(CORPUS / "microservices-demo", repo.path / "k8s" / "microservices-demo")
    shutil.copy(SHOP, repo.path / "k8s" / "shop.yaml")
    repo.git("init", "-q", "-b", "main")
    repo.commit("the shop as deployed")
    desired.revisions.clear()
    return repo


@pytest.fixture
def checkout_repo(tmp_path: Path) -> GitRepo:
    """A repository with checkout.yaml (ordinary manifests: `cpu: 0.1`, Service ports
    without `protocol`) under k8s/, exactly as written."""
    repo = GitRepo(tmp_path / "checkout")
    (repo.path / "k8s").mkdir(parents=True)
    shutil.copy(CHECKOUT, repo.path / "k8s" / "checkout.yaml")
    repo.git("init", "-q", "-b", "main")
    repo.commit("checkout, as its authors wrote it")
    return repo


@pytest.fixture
def checkout_policy(db: None, checkout_repo: GitRepo, kube_namespace: str) -> DriftPolicy:
    """A policy reading checkout_repo for test-a, in the test's namespace."""
    source = GitSource.objects.create(
        name="checkout", url=str(checkout_repo.path), ref="main", path="k8s"
    )
    return DriftPolicy.objects.create(
        name="checkout",
        source=source,
        cluster_names=["test-a"],
        default_namespace=kube_namespace,
        namespaces={"include": [kube_namespace], "exclude": []},
    )


@pytest.fixture
def scanner_cluster(db: None, devcluster) -> Cluster:
    """test-a, reached as the least-privilege driftcontrol-scanner identity."""
    cluster = Cluster(name="test-a", labels={"env": "test"})
    cluster.set_credentials(Path(devcluster.kubeconfig("driftcontrol-scanner")).read_text())
    cluster.save()
    return cluster


@pytest.fixture
def shop_policy(
    db: None, shop_repo: GitRepo, scanner_cluster: Cluster, kube_namespace: str
) -> DriftPolicy:
    source = GitSource.objects.create(name="shop", url=str(shop_repo.path), ref="main", path="k8s")
    return DriftPolicy.objects.create(
        name="shop",
        source=source,
        cluster_names=["test-a"],
        default_namespace=kube_namespace,
        namespaces={"include": [kube_namespace], "exclude": []},
    )


def server_side_payloads(devcluster, repo: GitRepo) -> Path:
    """The repository's manifests as a GitOps tool sends them with server-side apply: in
    the form the server accepts (DriftControl's own apply form, from the server's schema),
    written next to the repository. Git keeps the manifests exactly as their authors wrote
    them; only the deploy payload is adapted, as Flux does for its server-side applies."""
    import yaml

    schema = schemas.apply_schema(kube.Kube(Path(devcluster.kubeconfig("admin")).read_text()))
    target = repo.path.parent / f"{repo.path.name}-server-side"
    shutil.rmtree(target, ignore_errors=True)
    for path in sorted((repo.path / "k8s").rglob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        out = target / path.relative_to(repo.path / "k8s")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump_all([apply_form(d, schema) for d in documents]))
    return target


def apply_shop(
    devcluster, repo: GitRepo, namespace: str, server_side: bool = False, manager: str = "kubectl"
) -> None:
    """Deploy the repository: `kubectl apply`, or server-side apply as ``manager``, taking
    over what others own (as a GitOps tool's forced apply does)."""
    if server_side:
        payloads = server_side_payloads(devcluster, repo)
        devcluster.kubectl(
            "apply", "--server-side", "--force-conflicts", f"--field-manager={manager}",
            "-n", namespace, "-R", "-f", str(payloads),
        )  # fmt: skip
    else:
        devcluster.kubectl("apply", "-n", namespace, "-R", "-f", str(repo.path / "k8s"))


def scan(policy: DriftPolicy, cluster: Cluster) -> Scan:
    queued, _ = scanning.request(policy, cluster, enqueue=False)
    ran = scanning.run(queued.pk)
    assert ran is not None
    ran.refresh_from_db()
    assert ran.status == "succeeded", ran.error
    return ran


def findings(policy: DriftPolicy) -> dict[tuple[str, str, str], object]:
    """Open findings by (kind, name, type)."""
    return {(f.kind, f.name, f.type): f for f in policy.findings.open()}


@contextmanager
def watching() -> Iterator[Watcher]:
    """The watcher, running in a thread with its watches established; stopped after."""
    watcher = Watcher(Settings(reconcile_seconds=0.5, watch_timeout_seconds=30))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        assert watcher.ready.wait(30), "the watcher did not start"
        time.sleep(1.0)  # the first list has given each watch its resourceVersion
        yield watcher
    finally:
        watcher.stop()
        thread.join(10)
