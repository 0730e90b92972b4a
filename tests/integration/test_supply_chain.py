"""The supply rules against a real registry (Debian's docker-registry, TLS) and the local
API server: a lane requiring signatures and provenance; images pushed, signed and attested
here as cosign and Sigstore bundles write them; Deployments applied with kubectl and
scanned through the real scan. Each fault gives exactly its finding."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from alignment.models import ImageUse, ImageVerification, RegistryCredential
from drift.models import Cluster, DriftPolicy, FindingType, GitSource, Lane
from tests.integration.conftest import GitRepo, scan, watching
from tests.integration.test_detection import wait_for
from tests.support import oci

pytestmark = [pytest.mark.kube, pytest.mark.django_db]

BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
REPO = "https://github.com/acme/shop"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: app
        image: {image}
"""


class Shop:
    """Images in the registry, each with what its pipeline (or an attacker) attached."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.release = oci.ecdsa_key()
        self.edge = oci.ed25519_key()
        self.stranger = oci.ecdsa_key()
        self.commit = "9f2c1e0b7d4a3c5e6f708192a3b4c5d6e7f80912"

    def image(self, name: str, content: bytes | None = None) -> tuple[str, str]:
        """(reference pinned by digest, digest) of a new image ``shop/<name>``."""
        host, ca = self.registry.host, self.registry.ca_pem
        digest = oci.push_image(host, ca, f"shop/{name}", "1.0", content=content or name.encode())
        return f"{host}/shop/{name}@{digest}", digest

    def sign(self, name: str, digest: str, key: Any = None, **options: Any) -> None:
        host, ca = self.registry.host, self.registry.ca_pem
        oci.sign(host, ca, f"shop/{name}", digest, key or self.release, **options)

    def attest(
        self, name: str, digest: str, builder: str = BUILDER, source: str = REPO, **kw: Any
    ) -> None:
        host, ca = self.registry.host, self.registry.ca_pem
        statement = oci.slsa_v1(digest, builder, source, self.commit, level=3)
        oci.attest(host, ca, f"shop/{name}", digest, kw.pop("key", self.release), statement, **kw)


@pytest.fixture
def shop(oci_registry: Any) -> Shop:
    RegistryCredential.objects.create(host=oci_registry.host, ca_pem=oci_registry.ca_pem)
    return Shop(oci_registry)


def lane(cluster: Cluster, namespace: str, shop: Shop, **supply: Any) -> Lane:
    terms = {
        "signers": [
            {"name": "release", "key": oci.public_pem(shop.release)},
            {"name": "edge", "key": oci.public_pem(shop.edge)},
        ],
        "provenance": {
            "required": True,
            "builders": [{"id": BUILDER, "minLevel": 3}],
            "sourceRepositories": [REPO],
        },
        **supply,
    }
    found = Lane(name="controlled", namespaces=[namespace], supply=terms)
    found.full_clean()
    found.save()
    cluster.lanes.add(found)
    return found


def deployed(
    tmp_path: Path, devcluster: Any, namespace: str, images: dict[str, str]
) -> DriftPolicy:
    """A Git repository declaring one Deployment per image, applied with kubectl."""
    repo = GitRepo(tmp_path / "deploy")
    for name, image in images.items():
        repo.write(f"k8s/{name}.yaml", DEPLOYMENT.format(name=name, image=image))
    repo.git("init", "-q", "-b", "main")
    repo.commit("the shop's workloads")
    devcluster.kubectl("apply", "-n", namespace, "-R", "-f", str(repo.path / "k8s"))
    source = GitSource.objects.create(name="shop", url=str(repo.path), ref="main", path="k8s")
    return DriftPolicy.objects.create(
        name="shop",
        source=source,
        cluster_names=["test-a"],
        default_namespace=namespace,
        namespaces={"include": [namespace], "exclude": []},
    )


def supply_findings(policy: DriftPolicy) -> dict[str, str]:
    """Open supply findings: workload -> rule."""
    found = policy.findings.open().filter(type=FindingType.ALIGNMENT, rule__startswith="supply.")
    return {f.name: f.rule for f in found}


def test_each_fault_gives_exactly_its_finding(
    tmp_path, devcluster, scanner_cluster, kube_namespace, shop
):
    images: dict[str, str] = {}
    for name in ("good", "edge", "unsigned", "stranger", "tampered", "builder", "elsewhere"):
        images[name], digest = shop.image(name)
        key = {"edge": shop.edge, "stranger": shop.stranger}.get(name, shop.release)
        scheme = "bundle" if name == "edge" else "cosign"
        if name != "unsigned":
            shop.sign(name, digest, key, tamper=name == "tampered", scheme=scheme)
        builder = "https://ci.example/untrusted-builder" if name == "builder" else BUILDER
        source = "https://github.com/someone/fork" if name == "elsewhere" else REPO
        shop.attest(name, digest, builder, source, key=key, scheme=scheme)
    lane(scanner_cluster, kube_namespace, shop)
    policy = deployed(tmp_path, devcluster, kube_namespace, images)

    scan(policy, scanner_cluster)

    assert supply_findings(policy) == {
        "unsigned": "supply.unsigned",
        "stranger": "supply.untrusted-signer",
        "tampered": "supply.invalid-signature",
        "builder": "supply.builder",
        "elsewhere": "supply.source-mismatch",
    }
    uses = {u.name: u for u in ImageUse.objects.filter(policy=policy)}
    assert uses["good"].state == "verified"
    assert uses["good"].detail["signers"] == ["release"]
    assert uses["good"].detail["revision"] == shop.commit
    assert uses["edge"].detail["signers"] == ["edge"]
    assert uses["tampered"].state == "invalid-signature"


def test_a_second_scan_verifies_nothing_again(
    tmp_path, devcluster, scanner_cluster, kube_namespace, shop
):
    images = {}
    for name in ("web", "api"):
        images[name], digest = shop.image(name)
        shop.sign(name, digest)
        shop.attest(name, digest)
    images["worker"] = images["web"]  # the same image twice is verified once
    lane(scanner_cluster, kube_namespace, shop)
    policy = deployed(tmp_path, devcluster, kube_namespace, images)

    scan(policy, scanner_cluster)
    verified = {(v.digest, v.verified_at) for v in ImageVerification.objects.all()}
    scan(policy, scanner_cluster)

    assert len(verified) == 2
    assert {(v.digest, v.verified_at) for v in ImageVerification.objects.all()} == verified
    assert supply_findings(policy) == {}


def test_a_tag_where_the_lane_requires_digests_suggests_the_digest(
    tmp_path, devcluster, scanner_cluster, kube_namespace, shop
):
    _, digest = shop.image("web")
    shop.sign("web", digest)
    shop.attest("web", digest)
    lane(scanner_cluster, kube_namespace, shop, requireDigest=True)
    tagged = f"{shop.registry.host}/shop/web:1.0"
    policy = deployed(tmp_path, devcluster, kube_namespace, {"web": tagged})

    scan(policy, scanner_cluster)

    finding = policy.findings.open().get(rule="supply.digest")
    assert f"pin {shop.registry.host}/shop/web@{digest}" in finding.diff["message"]
    assert supply_findings(policy) == {"web": "supply.digest"}  # signed: nothing else


def test_a_stopped_registry_is_unverifiable_never_unsigned_and_resolves_when_back(
    tmp_path, devcluster, scanner_cluster, kube_namespace, shop, settings
):
    settings.REGISTRY_TIMEOUT_SECONDS = 2
    settings.SUPPLY_RECHECK_SECONDS = 0  # nothing cached counts: the registry is asked
    images = {}
    images["web"], digest = shop.image("web", b"unsigned web")  # a digest no test signs
    lane(scanner_cluster, kube_namespace, shop)
    policy = deployed(tmp_path, devcluster, kube_namespace, images)

    shop.registry.stop()
    try:
        scan(policy, scanner_cluster)
        assert supply_findings(policy) == {"web": "supply.unverifiable"}
    finally:
        shop.registry.start()
    shop.sign("web", digest)
    shop.attest("web", digest)
    scan(policy, scanner_cluster)

    assert supply_findings(policy) == {}
    assert policy.findings.filter(rule="supply.unverifiable").get().resolved_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_watcher_judges_a_new_image_within_seconds(
    tmp_path, devcluster, scanner_cluster, kube_namespace, shop
):
    images = {}
    images["web"], digest = shop.image("web")
    shop.sign("web", digest)
    shop.attest("web", digest)
    unsigned, _ = shop.image("web-unsigned")
    lane(scanner_cluster, kube_namespace, shop)
    policy = deployed(tmp_path, devcluster, kube_namespace, images)
    scan(policy, scanner_cluster)
    assert supply_findings(policy) == {}
    with watching():
        changed_at = time.monotonic()
        devcluster.kubectl(
            "set", "image", "-n", kube_namespace, "deployment/web", f"app={unsigned}"
        )
        wait_for(lambda: supply_findings(policy).get("web") == "supply.unsigned", 20)
        assert time.monotonic() - changed_at < 20

        devcluster.kubectl(
            "set", "image", "-n", kube_namespace, "deployment/web", f"app={images['web']}"
        )
        wait_for(lambda: "web" not in supply_findings(policy), 20)


def test_the_images_say_whether_they_were_built_from_a_commit_of_the_git_source(
    tmp_path, devcluster, scanner_cluster, kube_namespace, shop
):
    images = {}
    for name in ("head", "older", "elsewhere"):
        images[name], _ = shop.image(name)
    lane(scanner_cluster, kube_namespace, shop)
    policy = deployed(tmp_path, devcluster, kube_namespace, images)
    repo = GitRepo(Path(policy.source.url))
    older = repo.git("rev-parse", "HEAD").strip()
    repo.write("README.md", "the shop\n")
    head = repo.commit("a later commit")
    for name, revision in (("head", head), ("older", older), ("elsewhere", "0" * 40)):
        digest = images[name].partition("@")[2]
        shop.sign(name, digest)
        statement = oci.slsa_v1(digest, BUILDER, REPO, revision, level=3)
        oci.attest(
            shop.registry.host,
            shop.registry.ca_pem,
            f"shop/{name}",
            digest,
            shop.release,
            statement,
        )

    scan(policy, scanner_cluster)

    built = {
        u.name: (u.detail["built_from_head"], u.detail["built_from_git"])
        for u in ImageUse.objects.filter(policy=policy)
    }
    assert built == {"head": (True, True), "older": (False, True), "elsewhere": (False, False)}
