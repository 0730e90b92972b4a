"""The demo's supply chain: a local OCI registry holding the shop's own builds.

Debian's docker-registry serves 127.0.0.1:DEMO_REGISTRY_PORT over TLS, with its storage, CA,
certificate and the release key under the var dir, so a second `make demo` finds them
again (scripts/demo supervises it with its other processes). It holds two images:
`shop/paymentservice`, signed by the release key, with SLSA v1 provenance from
slsa-github-generator's container workflow (build level 3) naming the demo's Git
repository and the commit that deploys it; and `shop/adservice`, pushed by hand: no
signature, no provenance. Git deploys both on east, in namespace shop-release of lane
`release`, which requires digests, the release key's signature and that provenance:
paymentservice runs by digest and passes; adservice runs by tag, which gives `supply.digest`
(with the digest to pin), `supply.unsigned` and `supply.no-provenance`.

A lane of its own because a lane's terms cover every image in its namespaces: on lane
`controlled` each scan would also ask gcr.io and Docker Hub about the public sample images
(unverifiable offline, unsigned online) and bury the two this part of the story is about.

Images are pushed, signed and attested with tests/support/oci.py, as the tests do;
DriftControl reads them only through its own door (alignment.registry), with the registry's
CA stored as its credential. The Deployments never run pods (the local clusters have no
kubelet): only DriftControl needs to resolve the images.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support import registry_server

LANE = "release"
NAMESPACE = "shop-release"
BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
TAG = "v0.7.1"
# The one layer of each image: fixed bytes, so pushing again gives the same digests.
IMAGES = {
    "paymentservice": b"shop paymentservice v0.7.1, built by the release workflow\n",
    "adservice": b"shop adservice v0.7.1, built on a laptop and pushed by hand\n",
}
START_TIMEOUT = 30.0


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def _quietly(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return False
    return done.returncode == 0


def available() -> bool:
    """Whether Debian's docker-registry is installed, installing it when it is not as the
    demo's other Debian tools are (scripts/devcluster): apt-get, as root or through sudo."""
    if registry_server.BINARY.exists():
        return True
    as_root = [] if os.geteuid() == 0 else ["sudo"] if shutil.which("sudo") else None
    if as_root is None or not shutil.which("apt-get"):
        return False
    say("installing Debian's docker-registry (the demo's local image registry)")
    install = [*as_root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
               "-q", "--no-install-recommends", "docker-registry"]  # fmt: skip
    if not _quietly(install) and _quietly([*as_root, "apt-get", "update", "-q"]):
        _quietly(install)
    if not registry_server.BINARY.exists():
        return False
    # The package starts a registry for everyone on :5000 where init allows it; the demo
    # runs its own on loopback, so that one is stopped and kept off (as scripts/services).
    if Path("/run/systemd/system").is_dir():
        _quietly([*as_root, "systemctl", "disable", "--now", "docker-registry"])
    else:
        _quietly([*as_root, "/etc/init.d/docker-registry", "stop"])
        _quietly([*as_root, "update-rc.d", "docker-registry", "disable"])
    return True


@dataclass
class LocalRegistry:
    """The demo's registry: 127.0.0.1:``port`` over TLS, everything under ``directory``."""

    directory: Path
    port: int

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Where its output goes: it logs every 404 as an error (each signature looked for
        and not there), lines the console has no use for."""
        return self.directory / "registry.log"

    def command(self) -> list[str]:
        """How to run it, once its certificate and configuration are in place."""
        self.tls = _tls(self.directory / "tls")
        path = self.directory / "config.yml"
        # A new upload secret per start: no upload of the demo outlives its registry.
        found = registry_server.config(
            self.host, self.directory / "storage", self.tls, secret=secrets.token_hex(16)
        )
        path.write_text(yaml.safe_dump(found))
        path.chmod(0o600)
        return [str(registry_server.BINARY), "serve", str(path)]

    def wait(self, process: subprocess.Popen[str]) -> None:
        """Until /v2/ answers; SystemExit if the registry exits or stays silent."""
        deadline = time.monotonic() + START_TIMEOUT
        while not registry_server.alive(self.host, self.tls.ca_pem):
            if process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                raise SystemExit(f"demo: the registry exited with {process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: the registry on {self.host} did not answer in time")
            time.sleep(0.1)


def _tls(directory: Path) -> registry_server.Tls:
    """The certificate of an earlier run while it is good for another month (the CA
    DriftControl stores stays the same), else a new one for a year."""
    from cryptography import x509

    certificate, key, ca = (directory / n for n in ("server.crt", "server.key", "ca.crt"))
    if certificate.exists() and key.exists() and ca.exists():
        expires = x509.load_pem_x509_certificate(certificate.read_bytes()).not_valid_after_utc
        if expires - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=30):
            return registry_server.Tls(ca.read_text(), certificate, key)
    return registry_server.make_tls(directory, days=365, ca_name="DriftControl demo registry CA")


@dataclass(frozen=True)
class Release:
    """What the registry holds for the story: each image's digest, and the release key."""

    host: str
    ca_pem: str
    digests: dict[str, str]
    key: Any  # an ECDSA P-256 private key (cryptography)

    def image(self, name: str, *, pinned: bool) -> str:
        reference = f"{self.host}/shop/{name}"
        return f"{reference}@{self.digests[name]}" if pinned else f"{reference}:{TAG}"

    def lane_spec(self) -> dict[str, Any]:
        """Lane `release`: what its images must prove."""
        from tests.support.oci import public_pem

        return {
            "description": "production builds of the shop's own services: pinned, signed "
            "by the release key, with SLSA provenance from the release workflow",
            "namespaces": [NAMESPACE],
            "branches": ["main"],
            "requireDigest": True,
            "signers": [{"name": "release", "key": public_pem(self.key)}],
            # sourceRepositories left out: the policy's GitSource URL is the one.
            "provenance": {"required": True, "builders": [{"id": BUILDER, "minLevel": 3}]},
        }

    def manifests(self) -> str:
        """The Deployments Git keeps for shop-release: paymentservice from the release
        workflow, by digest; adservice as someone pushed it, by tag."""
        deployments = [
            _deployment("paymentservice", self.image("paymentservice", pinned=True)),
            _deployment("adservice", self.image("adservice", pinned=False)),
        ]
        return yaml.safe_dump_all(deployments, sort_keys=False)


def _deployment(name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    container = {
        "name": "server",
        "image": image,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [container],
                },
            },
        },
    }


def publish(registry: LocalRegistry) -> Release:
    """Push both images (again: the same bytes, the same digests) and store the registry's
    CA as DriftControl's credential for it when it is new."""
    from alignment import registries
    from alignment.models import RegistryCredential
    from tests.support import oci

    ca = registry.tls.ca_pem
    digests = {
        name: oci.push_image(registry.host, ca, f"shop/{name}", TAG, content=content)
        for name, content in IMAGES.items()
    }
    stored = RegistryCredential.objects.filter(host=registry.host).first()
    if stored is None or stored.ca_pem.strip() != ca.strip():
        registries.save(registry.host, "system:demo", ca_pem=ca)
    return Release(registry.host, ca, digests, release_key(registry.directory / "release-key.pem"))


def release_key(path: Path) -> Any:
    """The demo's release key (ECDSA P-256), made once and kept with the registry."""
    from cryptography.hazmat.primitives import serialization

    from tests.support.oci import ecdsa_key

    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = ecdsa_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def commit(release: Release, repository: Path) -> Path:
    """Add shop-release's Deployments to the shop's Git repository under k8s/ (where the
    policy reads), as the release workflow would; returns their directory."""
    target = repository / "k8s" / NAMESPACE
    target.mkdir(parents=True, exist_ok=True)
    (target / "deployments.yaml").write_text(release.manifests())
    git = ["git", "-C", str(repository), "-c", "user.name=Release Workflow",
           "-c", "user.email=release@shop.example"]  # fmt: skip
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "paymentservice and adservice v0.7.1"], check=True)
    return target


def vouch(release: Release, source: str, repository: Path) -> None:
    """paymentservice signed by the release key, with provenance saying the release
    workflow built it from ``source`` (the policy's GitSource URL, as written there) at the
    commit Git deploys it from. Once: what the registry holds already stays."""
    from alignment.supply.provenance import normalise_source
    from tests.support import oci

    name, digest = "shop/paymentservice", release.digests["paymentservice"]
    if not _tagged(release, name, digest, ".sig"):
        oci.sign(release.host, release.ca_pem, name, digest, release.key)
    if not _tagged(release, name, digest, ".att"):
        head = ["git", "-C", str(repository), "rev-parse", "HEAD"]
        revision = subprocess.run(head, check=True, capture_output=True, text=True).stdout.strip()
        statement = oci.slsa_v1(digest, BUILDER, source, revision)
        oci.attest(release.host, release.ca_pem, name, digest, release.key, statement)
    # The provenance names the source as git+<url>@<ref>: it must read back as the URL.
    if normalise_source(f"git+{source}@refs/heads/main") != normalise_source(source):
        say(f"the Git source {source} does not read back from provenance: expect a "
            "supply.source-mismatch finding on paymentservice")  # fmt: skip


def _tagged(release: Release, name: str, digest: str, suffix: str) -> bool:
    from tests.support.oci_push import Client

    tag = digest.replace(":", "-", 1) + suffix
    return Client(release.host, release.ca_pem).get_manifest(name, tag) is not None
