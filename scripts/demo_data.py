"""The demo's story: lanes, two local clusters, a Git repository of real manifests,
live edits by different hands, remediations in every state, and 30 days of history; with
the local registry (scripts/demo_supply.py), a lane whose images must prove their origin.

Imported by scripts/demo after Django is set up. Seeding runs once (a marker in var/);
everything it does goes through the product's own services, as a user would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

if TYPE_CHECKING:
    from demo_supply import Release

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "scripts" / "demo.d" / "manifests"
DEVCLUSTER = str(ROOT / "scripts" / "devcluster")
NAMESPACE = "shop"


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def kubectl(
    cluster: str, *args: str, env: dict[str, str] | None = None, user: str = "admin"
) -> None:
    import os

    done = subprocess.run(
        [DEVCLUSTER, "kubectl", "--name", cluster, "--user", user, "--", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if done.returncode:
        raise SystemExit(
            f"demo: kubectl {' '.join(args)} failed on {cluster}: "
            f"{(done.stderr or done.stdout).strip()}"
        )


def kubeconfig(cluster: str, user: str) -> str:
    return subprocess.run(
        [DEVCLUSTER, "kubeconfig", "--name", cluster, "--user", user],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_repository(target: Path) -> Path:
    """A Git repository holding the shop's manifests, as the delivery team keeps them."""
    if target.exists():
        shutil.rmtree(target)
    (target / "k8s").mkdir(parents=True)
    for item in MANIFESTS.iterdir():
        if item.is_dir():
            shutil.copytree(item, target / "k8s" / item.name)
        elif item.suffix == ".yaml":
            shutil.copy(item, target / "k8s" / item.name)
    # The manifests go in as published: DriftControl sends its server-side applies in the
    # form the server accepts (drift.engine.apply_form), so Git is not adapted to it.
    git = [
        "git",
        "-C",
        str(target),
        "-c",
        "user.name=Delivery Team",
        "-c",
        "user.email=delivery@shop.example",
    ]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "The shop, as released"], check=True)
    return target


def document(
    kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return {
        "apiVersion": "driftcontrol.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    }


def configuration(repository: Path, release: Release | None) -> list[dict[str, Any]]:
    return [*lanes_and_clusters(release), *shop_policies(repository, release)]


def lanes_and_clusters(release: Release | None = None) -> list[dict[str, Any]]:
    """Lanes controlled and fast, east and west; lane release on east with the registry."""
    import demo_supply

    released = [document("Lane", demo_supply.LANE, release.lane_spec())] if release else []
    return [
        document(
            "Lane",
            "controlled",
            {
                "description": "production: changes go through approvals",
                "namespaces": [NAMESPACE],
                "branches": ["main"],
                "identities": ["system:serviceaccount:gitops:deployer"],
                # What the shop's workloads may use (the alignment rules check it).
                "secrets": ["shop-*"],
                "registries": [
                    "registry.example/",
                    "gcr.io/google-samples/",
                    "ghcr.io/stefanprodan/",
                    "docker.io/library/",
                ],
                # The guardrails its namespaces must carry (the shop's deny-all holds it).
                "requires": {"defaultDenyNetworkPolicy": True},
            },
        ),
        document(
            "Lane",
            "fast",
            {
                "description": "automated, low risk",
                "namespaces": [NAMESPACE],
                "branches": ["main"],
                "secrets": ["dev-*"],
            },
        ),
        *released,
        document(
            "Cluster",
            "east",
            {
                "kubeconfig": kubeconfig("east", "driftcontrol-scanner"),
                "lanes": ["controlled", *([demo_supply.LANE] if release else [])],
            },
            labels={"region": "eu", "tier": "production"},
        ),
        document(
            "Cluster",
            "west",
            {"kubeconfig": kubeconfig("west", "driftcontrol-scanner"), "lanes": ["fast"]},
            labels={"region": "us", "tier": "staging"},
        ),
    ]


def shop_policies(repository: Path, release: Release | None = None) -> list[dict[str, Any]]:
    import demo_supply

    shop = {"source": "shop", "namespace": NAMESPACE, "namespaces": {"include": [NAMESPACE]}}
    # Production also reads lane release's namespace (Git holds it for east only).
    production = [NAMESPACE, *([demo_supply.NAMESPACE] if release else [])]
    return [
        document(
            "GitSource",
            "shop",
            {
                "url": str(repository),
                "ref": "main",
                "path": "k8s",
                "hookSecret": "demo-hook-secret",
            },
        ),
        document(
            "DriftPolicy",
            "shop-production",
            {
                "description": "The shop in production: detect, people decide.",
                **shop,
                "namespaces": {"include": production},
                "clusters": {"selector": {"matchLabels": {"region": "eu"}}},
                "interval": "2m",
                "mode": "detect-only",
                "remediation": {"strategy": "sync", "autoRemediateUpTo": "none"},
            },
        ),
        document(
            "DriftPolicy",
            "shop-staging",
            {
                "description": "Staging heals itself up to low severity.",
                **shop,
                "clusters": {"names": ["west"]},
                "interval": "2m",
                "mode": "enforce",
                "undeclaredFields": "report",
                "remediation": {"strategy": "sync", "autoRemediateUpTo": "low"},
            },
        ),
    ]


def live_edits() -> None:
    """What people and tools do to clusters behind Git's back."""
    kubectl("east", "set", "image", "-n", NAMESPACE, "deployment/frontend",
            "server=gcr.io/google-samples/microservices-demo/frontend:v0.8.0-hotfix")  # fmt: skip
    kubectl("east", "scale", "-n", NAMESPACE, "deployment/web", "--replicas=6")
    kubectl("east", "patch", "-n", NAMESPACE, "rolebinding", "deployers", "--type=json", "-p",
            '[{"op":"add","path":"/subjects/-","value":{"kind":"User","name":"contractor",'
            '"apiGroup":"rbac.authorization.k8s.io"}}]')  # fmt: skip
    kubectl("east", "patch", "-n", NAMESPACE, "configmap", "shop-settings", "--type=merge",
            "-p", '{"data":{"currency":"USD"}}', "--field-manager=helm-hotfix")  # fmt: skip
    kubectl("east", "delete", "-n", NAMESPACE, "service/redis-cart")
    kubectl("west", "edit", "-n", NAMESPACE, "deployment/emailservice",
            env={"KUBE_EDITOR": 'sed -i s/"8080"/"8081"/'})  # fmt: skip
    kubectl("west", "label", "-n", NAMESPACE, "deployment/adservice", "owner=night-shift")
    misalignments()


def misalignments() -> None:
    """A reference that does not resolve, the fast lane reading production's database
    password, and production's default-deny NetworkPolicy deleted "to debug a timeout":
    the alignment rules' part of the story."""
    kubectl("east", "patch", "-n", NAMESPACE, "deployment", "web", "--type=json", "-p",
            '[{"op":"add","path":"/spec/template/spec/containers/0/envFrom",'
            '"value":[{"configMapRef":{"name":"feature-flags"}}]}]')  # fmt: skip
    kubectl(
        "west", "set", "env", "-n", NAMESPACE, "deployment/currencyservice", "--from=secret/shop-db"
    )
    kubectl("east", "delete", "-n", NAMESPACE, "networkpolicy/deny-all")


def remediations() -> None:
    """One request per ending people see: succeeded, rejected, and one waiting."""
    from drift.models import Finding
    from remediation import services

    users = get_user_model().objects
    operator, approver, admin = (users.get(username=n) for n in ("operator", "approver", "admin"))
    east = Finding.objects.open().filter(cluster__name="east")
    frontend = east.get(name="frontend", type="modified")
    done = services.request_remediation(
        [frontend], "sync", operator, "Hotfix image was never merged; back to the release"
    )
    services.approve(done.pk, approver, "Confirmed with the frontend team")
    services.execute(done.pk)
    settings_map = east.get(name="shop-settings", type="modified")
    refused = services.request_remediation(
        [settings_map], "sync", operator, "Currency should follow Git"
    )
    services.reject(refused.pk, approver, "USD is intentional until the 1.5 release")
    binding = east.get(name="deployers", type="modified")
    waiting = services.request_remediation(
        [binding], "sync", operator, "An unknown subject was added to deployers"
    )
    services.approve(waiting.pk, admin, "Nobody asked for this access")


def take_audit_feeds() -> None:
    """Accept the tokens east's and west's audit webhooks present (kept by devcluster)."""
    from alignment import audit_feed
    from drift.models import Cluster

    for cluster in Cluster.objects.filter(name__in=["east", "west"]):
        found = subprocess.run(
            [DEVCLUSTER, "audit-token", "--name", cluster.name],
            check=True,
            capture_output=True,
            text=True,
        )
        audit_feed.adopt_token(cluster, Path(found.stdout.strip()).read_text(), "system:demo")


def after_start(host: str, port: int) -> None:
    """Once the feed listener answers (it takes the audit feed): alice edits a Deployment of
    the controlled lane on east with `kubectl edit`. The audit feed names her, and the
    watcher raises `lane.deployer` seconds later (or the next scan does). Once per story."""
    import socket
    import time

    marker = Path(settings.VAR_DIR) / "demo-audited"
    if marker.exists():
        return
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex((host, port)) == 0:
                break
        time.sleep(1)
    else:
        return
    time.sleep(10)  # the watcher has opened its watches meanwhile
    kubectl("east", "edit", "-n", NAMESPACE, "deployment/paymentservice", user="alice",
            env={"KUBE_EDITOR": 'sed -i s/"50051"/"50052"/'})  # fmt: skip
    say("alice edited paymentservice on east by hand (outside the controlled lane's "
        "deployers): see /alignment/")  # fmt: skip
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))


def history(days: int = 30) -> int:
    """Thirty days of daily rollups, marked as generated for the demo (never measured)."""
    import demo_history  # scripts/demo_history.py, next to this file

    return demo_history.generate(days)


def demo_repositories() -> Path:
    """Where the demo's Git repositories live: below VAR_DIR, in a directory the server
    reads local repositories from (scripts/demo sets GIT_LOCAL_ROOTS to it)."""
    from drift import git

    directory = Path(settings.VAR_DIR) / "demo"
    if git.source_problems(str(directory / "deploy"), "main", "", git.configured_roots()):
        raise SystemExit(
            f"demo: the demo's repositories live in {directory}, which GIT_LOCAL_ROOTS "
            f"({':'.join(settings.GIT_LOCAL_ROOTS) or 'empty'}) does not allow; "
            f"unset it or add {directory}"
        )
    return directory


def deploy(repository: Path, release: Release | None) -> None:
    """The released shop on east and west; with the registry, lane release's Deployments
    committed to Git and deployed on east."""
    import demo_supply

    namespace = repository.parent / "namespace.yaml"
    namespace.write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n")
    for cluster in ("east", "west"):
        # The local clusters outlive var/ (and serve every clone): a story seeded before
        # left its live edits there, and the story starts from the released shop.
        for gone in (NAMESPACE, demo_supply.NAMESPACE):
            kubectl(cluster, "delete", "namespace", gone, "--ignore-not-found", "--wait=true")
        kubectl(cluster, "apply", "-f", str(namespace))
        kubectl(cluster, "apply", "-n", NAMESPACE, "-R", "-f", str(repository / "k8s"))
    if release:
        kubectl("east", "create", "namespace", demo_supply.NAMESPACE)
        kubectl("east", "apply", "-R", "-f", str(demo_supply.commit(release, repository)))
        demo_supply.vouch(release, str(repository), repository)


def seed(audit_url: Callable[[str], str], release: Release | None = None) -> None:
    """The whole story, once: later starts keep what is there (and what you did)."""
    import demo_supply

    from drift import declarative
    from drift.models import Cluster, DriftPolicy
    from drift.services import analytics, clusters, scanning

    # Every run, not only the first: after a restart of the machine the story needs west
    # as much as east (scripts/demo starts east).
    # west's feed goes to the same listener, whose certificate east's CA signed.
    east_tls = subprocess.run([DEVCLUSTER, "audit-tls", "--name", "east"], check=True,
                              capture_output=True, text=True).stdout.split()  # fmt: skip
    east_ca = str(Path(east_tls[0]).with_name("ca.crt"))
    subprocess.run([DEVCLUSTER, "start", "--name", "west", "--audit-url", audit_url("west"),
                    "--audit-ca", east_ca], check=True)  # fmt: skip
    marker = Path(settings.VAR_DIR) / "demo-seeded"
    if marker.exists() and Cluster.objects.filter(name="west").exists():
        take_audit_feeds()
        repository = demo_repositories() / "deploy"
        if release and (repository / "k8s" / demo_supply.NAMESPACE).is_dir():
            demo_supply.vouch(release, str(repository), repository)  # kept, or signed again
        say("demo data already in place (delete var/ to start over)")
        return
    say("creating the shop's Git repository and deploying it to east and west")
    repository = make_repository(demo_repositories() / "deploy")
    deploy(repository, release)
    say("registering lanes, clusters, the Git source and two policies")
    declarative.apply(configuration(repository, release), "system:demo")
    take_audit_feeds()
    # alice may edit the shop on east (RBAC), though she is not the lane's deployer.
    kubectl("east", "create", "rolebinding", "shop-editors", "--clusterrole=edit",
            "--user=alice", "-n", NAMESPACE)  # fmt: skip
    say("editing live objects the way people do, then scanning")
    live_edits()
    for policy in DriftPolicy.objects.all():
        for cluster in clusters.targets(policy):
            queued, _ = scanning.request(policy, cluster, enqueue=False)
            scanning.run(queued.pk)
    say("remediations: one succeeded, one rejected, one waiting for a second approver")
    remediations()
    say(f"{history()} rows of generated trend history (30 days, marked as generated)")
    analytics.rollup(timezone.localdate())
    marker.write_text(timezone.now().isoformat())
