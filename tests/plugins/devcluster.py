"""pytest plugin: real Kubernetes 1.20 API servers for tests, from scripts/devcluster.

Enable it with ``pytest_plugins = ["tests.plugins.devcluster"]`` (or ``-p
tests.plugins.devcluster``). It is plain pytest plus the official ``kubernetes``
client; nothing here needs Django.

Fixtures
    devclusters     session: builds the binaries if needed (once, cached outside
                    the clone) and starts the clusters ``test-a`` and ``test-b``;
                    a mapping name -> DevCluster (also ``.a`` and ``.b``).
    devcluster      the ``test-a`` DevCluster.
    devcluster_b    the ``test-b`` DevCluster.
    kube_namespace  a fresh, uniquely named namespace in ``test-a``, deleted after
                    the test (its name is the fixture value).
    make_kube_namespace
                    a factory for more such namespaces, in either cluster.

Mark tests that use them with ``@pytest.mark.kube``.

The clusters are services, like the PostgreSQL the tests use: they stay up after
the session so the next run starts in a second. ``scripts/devcluster stop --all``
stops them. If they cannot be built or started the fixture fails with the
script's output; it never skips, so a broken cluster cannot pass unnoticed.

Several pytest-xdist workers may call the fixtures at once: the script
serialises builds and starts with flock and returns at once for a cluster that
is already running.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from kubernetes.dynamic import DynamicClient

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "devcluster"

#: The clusters tests run against; their default ports (16543, 16553) are apart
#: from the demo clusters ``east`` and ``west`` (16443, 16453).
CLUSTER_A = "test-a"
CLUSTER_B = "test-b"

#: Identities with a kubeconfig in every cluster (see docs/devcluster.md).
USERS = ("admin", "driftcontrol-scanner", "tester-1", "tester-2", "tester-3", "alice")

#: A cold build compiles Kubernetes (5-8 minutes on 2 cores); allow slow machines.
BUILD_TIMEOUT = 60 * 60
#: The script waits at most DEVCLUSTER_TIMEOUT (120 s) per component.
START_TIMEOUT = 15 * 60


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kube: uses the local Kubernetes 1.20 API servers of scripts/devcluster "
        "(fixtures devclusters, devcluster, devcluster_b, kube_namespace)",
    )


@dataclass(frozen=True)
class DevCluster:
    """One running local cluster."""

    name: str
    server: str
    kubeconfigs: Mapping[str, Path] = field(repr=False)

    def kubeconfig(self, user: str = "admin") -> str:
        """Path of the kubeconfig for ``user`` (one of USERS)."""
        try:
            return str(self.kubeconfigs[user])
        except KeyError:
            raise ValueError(f"unknown devcluster user {user!r}; choose one of {USERS}") from None

    @property
    def audit_port(self) -> int:
        """Where its API server sends the audit feed by default (its port + 4)."""
        from urllib.parse import urlsplit

        port = urlsplit(self.server).port
        assert port is not None
        return port + 4

    def audit_tls(self) -> tuple[str, str]:
        """Certificate and key for 127.0.0.1 its audit webhook trusts (TLS only: the API
        server sends its token to no plain-HTTP address)."""
        found = subprocess.run(
            [str(SCRIPT), "audit-tls", "--name", self.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return found[0], found[1]

    def audit_token(self) -> str:
        """The bearer token its audit webhook presents."""
        path = subprocess.run(
            [str(SCRIPT), "audit-token", "--name", self.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return Path(path).read_text().strip()

    def client(self, user: str = "admin") -> ApiClient:
        """A new ``kubernetes.client.ApiClient`` authenticated as ``user``."""
        from kubernetes import config

        return config.new_client_from_config(
            config_file=self.kubeconfig(user), persist_config=False
        )

    def dynamic(self, user: str = "admin") -> DynamicClient:
        """A ``kubernetes.dynamic.DynamicClient`` authenticated as ``user``."""
        from kubernetes.dynamic import DynamicClient

        return DynamicClient(self.client(user))

    def kubectl(
        self,
        *args: str,
        user: str = "admin",
        check: bool = True,
        timeout: float = 300,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the kubectl built with the cluster (same 1.20 version) as ``user``;
        ``env`` adds variables (KUBE_EDITOR for a scripted `kubectl edit`)."""
        proc = subprocess.run(
            [str(SCRIPT), "kubectl", "--name", self.name, "--user", user, "--", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            env={**os.environ, **env} if env else None,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed (exit {proc.returncode}) on {self.name}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc


class DevClusters(dict[str, DevCluster]):
    """The session's clusters by name, with ``.a`` (test-a) and ``.b`` (test-b)."""

    @property
    def a(self) -> DevCluster:
        return self[CLUSTER_A]

    @property
    def b(self) -> DevCluster:
        return self[CLUSTER_B]


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


_started_output_line = False


def _run_script(config: pytest.Config, *args: str, timeout: float, show: bool = True) -> str:
    """Run scripts/devcluster; fail the test session loudly if it fails.

    With ``show``, output is shown live in a plain (non-xdist, non-quiet) run,
    so that a first, minutes long build shows its progress. It is always kept
    for the failure message.
    """
    global _started_output_line
    command = [str(SCRIPT), *args]
    shown = "scripts/devcluster " + " ".join(args)
    capman = config.pluginmanager.getplugin("capturemanager")
    echo = (
        show and capman is not None and not _is_xdist_worker(config) and config.option.verbose >= 0
    )
    lines: list[str] = []
    timed_out = threading.Event()
    with capman.global_and_fixture_disabled() if echo else contextlib.nullcontext():
        if echo and not _started_output_line:
            sys.stderr.write("\n")  # off the "collected N items" line
            _started_output_line = True
        try:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                cwd=REPO_ROOT,
                # The script must never prompt (sudo, apt): CI has no terminal.
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        except OSError as exc:
            pytest.fail(f"{shown}: cannot run {SCRIPT}: {exc}", pytrace=False)

        def kill() -> None:
            timed_out.set()
            proc.kill()

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if echo:
                    sys.stderr.write(line)
                    sys.stderr.flush()
            returncode = proc.wait()
        finally:
            watchdog.cancel()
    output = "".join(lines)
    if timed_out.is_set():
        pytest.fail(
            f"{shown} did not finish within {timeout:.0f}s; output:\n{output}", pytrace=False
        )
    if returncode != 0:
        pytest.fail(f"{shown} failed (exit {returncode}); output:\n{output}", pytrace=False)
    return output


def _load_cluster(config: pytest.Config, name: str) -> DevCluster:
    import yaml

    kubeconfigs = {
        user: Path(
            _run_script(
                config, "kubeconfig", "--name", name, "--user", user, timeout=60, show=False
            ).strip()
        )
        for user in USERS
    }
    with open(kubeconfigs["admin"], encoding="utf-8") as fh:
        server = yaml.safe_load(fh)["clusters"][0]["cluster"]["server"]
    return DevCluster(name=name, server=server, kubeconfigs=kubeconfigs)


def _start(config: pytest.Config, name: str) -> DevCluster:
    _run_script(config, "start", "--name", name, timeout=START_TIMEOUT)
    return _load_cluster(config, name)


@pytest.fixture(scope="session")
def devclusters(pytestconfig: pytest.Config) -> DevClusters:
    """Build (if needed) and start the clusters test-a and test-b; left running afterwards."""
    _run_script(pytestconfig, "build", timeout=BUILD_TIMEOUT)
    return DevClusters({name: _start(pytestconfig, name) for name in (CLUSTER_A, CLUSTER_B)})


@pytest.fixture(scope="session")
def devcluster(devclusters: DevClusters) -> DevCluster:
    """The cluster test-a."""
    return devclusters.a


@pytest.fixture(scope="session")
def devcluster_b(devclusters: DevClusters) -> DevCluster:
    """The cluster test-b."""
    return devclusters.b


def _namespace_name(nodeid: str) -> str:
    # DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters.
    slug = re.sub(r"[^a-z0-9]+", "-", nodeid.rsplit("::", 1)[-1].lower()).strip("-")[:40].strip("-")
    return f"t-{slug}-{uuid.uuid4().hex[:8]}" if slug else f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def kube_namespace(devcluster: DevCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new namespace in test-a, deleted (without waiting) after the test."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    name = _namespace_name(request.node.nodeid)
    with devcluster.client() as api_client:
        core = client.CoreV1Api(api_client)
        core.create_namespace(
            client.V1Namespace(
                metadata=client.V1ObjectMeta(
                    name=name, labels={"driftcontrol.test/ephemeral": "true"}
                )
            )
        )
        try:
            yield name
        finally:
            try:
                core.delete_namespace(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise


@pytest.fixture
def make_kube_namespace(devcluster: DevCluster) -> Iterator[Callable[..., str]]:
    """Factory: ``make_kube_namespace(cluster=None, prefix="t")`` creates a uniquely named
    namespace (in test-a unless another DevCluster is given); all are deleted after the test."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    created: list[tuple[DevCluster, str]] = []

    def make(cluster: DevCluster | None = None, prefix: str = "t") -> str:
        cluster = cluster or devcluster
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        with cluster.client() as api_client:
            client.CoreV1Api(api_client).create_namespace(
                client.V1Namespace(
                    metadata=client.V1ObjectMeta(
                        name=name, labels={"driftcontrol.test/ephemeral": "true"}
                    )
                )
            )
        created.append((cluster, name))
        return name

    yield make
    for cluster, name in created:
        with cluster.client() as api_client:
            try:
                client.CoreV1Api(api_client).delete_namespace(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
