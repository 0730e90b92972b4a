"""pytest plugin: a real OCI registry for tests, Debian's ``docker-registry`` (distribution 2.8).

Enabled in tests/conftest.py's ``pytest_plugins``. Plain pytest plus ``cryptography``;
nothing here needs Django. The certificates, the configuration and the probe come from
tests/support/registry_server.py, which the demo's registry shares.

Fixtures
    oci_registry    session: one registry per xdist worker on 127.0.0.1, with TLS (a CA
                    made for the session and a certificate for 127.0.0.1), storage in a
                    temporary directory, deletes enabled. An `OciRegistry`: ``.host``,
                    ``.ca_pem``, ``.access()``, ``.stop()``, ``.start()`` (same port, same
                    storage), ``.alive()``.

`launch` starts more of them (a test module's registry behind basic or token
authentication: pass ``auth``, the ``auth:`` section of its configuration).

``scripts/services ensure`` installs the package; without its binary the fixture skips and
says so. The registry is a process of the session, killed at its end.
"""

from __future__ import annotations

import atexit
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support import registry_server
from tests.support.registry_server import BINARY, Tls, make_ca, make_tls

if TYPE_CHECKING:
    from alignment.registry import Access

__all__ = ["BINARY", "OciRegistry", "RegistryDidNotStart", "Tls", "launch", "make_ca", "make_tls"]

#: Below the kernel's ephemeral range (32768-60999), so that no outgoing connection of the
#: suite takes the port between the check and the bind, nor while the registry is stopped;
#: apart from the local API servers (16443-16560) and test_walkthrough's (20000-32000).
PORTS = range(17000, 19999)
START_TIMEOUT = 30.0


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class OciRegistry:
    """One running ``docker-registry serve`` on 127.0.0.1, with TLS."""

    directory: Path
    port: int
    tls: Tls
    auth: dict[str, Any] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> str:
        return self.tls.ca_pem

    @property
    def log(self) -> Path:
        return self.directory / "registry.log"

    def access(self, **overrides: Any) -> Access:
        """An `alignment.registry.Access` for it (fields overridable: credentials, timeout)."""
        from alignment.registry import Access

        return Access(**{"host": self.host, "ca_pem": self.ca_pem, **overrides})

    def config(self) -> dict[str, Any]:
        # A fixed secret, so that an upload's state survives stop() and start().
        return registry_server.config(
            self.host,
            self.directory / "storage",
            self.tls,
            secret="driftcontrol-test-registry",
            auth=self.auth,
        )

    def start(self) -> None:
        """Run it (again): the same port, storage and certificate; waits until /v2/ answers."""
        if self.process is not None and self.process.poll() is None:
            return
        path = self.directory / "config.yml"
        path.write_text(yaml.safe_dump(self.config()))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(BINARY), "serve", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.alive():
            if self.process.poll() is not None:
                raise RegistryDidNotStart(self, f"it exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RegistryDidNotStart(self, f"no answer within {START_TIMEOUT:.0f}s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill it and wait until it is gone; its storage stays."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def alive(self) -> bool:
        """Whether /v2/ answers over TLS: 200, or 401 for one that wants credentials."""
        return registry_server.alive(self.host, self.ca_pem)


class RegistryDidNotStart(Exception):
    def __init__(self, registry: OciRegistry, why: str) -> None:
        tail = registry.log.read_text(errors="replace")[-3000:] if registry.log.exists() else ""
        super().__init__(f"docker-registry on {registry.host} did not start: {why}\n{tail}")


def launch(directory: Path, *, auth: dict[str, Any] | None = None) -> OciRegistry:
    """Start a registry with its own certificate and storage under ``directory``, on a free
    port (another one when a parallel worker took it first). Stop it with ``.stop()``."""
    if not BINARY.exists():
        pytest.skip(f"{BINARY} is missing: run scripts/services ensure (Debian's docker-registry)")
    tls = make_tls(directory / "tls")
    for _ in range(20):
        port = random.choice(PORTS)
        if not _port_is_free(port):
            continue
        registry = OciRegistry(directory=directory, port=port, tls=tls, auth=auth)
        try:
            registry.start()
        except RegistryDidNotStart:
            if "address already in use" in registry.log.read_text(errors="replace"):
                registry.log.unlink()
                continue
            raise
        atexit.register(registry.stop)  # should the session end without its teardown
        return registry
    raise AssertionError("no free port for a test registry")


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    """This worker's registry (see the module's docstring)."""
    directory = tmp_path_factory.mktemp("oci-registry")
    registry = launch(directory)
    try:
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(directory / "storage", ignore_errors=True)
