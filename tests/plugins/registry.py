"""pytest plugin: a real OCI registry for tests, Debian's ``docker-registry`` (distribution 2.8).

Enabled in tests/conftest.py's ``pytest_plugins``. Plain pytest plus ``cryptography``;
nothing here needs Django.

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
import datetime
import ipaddress
import random
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from alignment.registry import Access

#: Where the package puts it (`dpkg -L docker-registry`).
BINARY = Path("/usr/bin/docker-registry")
#: Below the kernel's ephemeral range (32768-60999), so that no outgoing connection of the
#: suite takes the port between the check and the bind, nor while the registry is stopped;
#: apart from the local API servers (16443-16560) and test_walkthrough's (20000-32000).
PORTS = range(17000, 19999)
START_TIMEOUT = 30.0


@dataclass
class Tls:
    """A CA and a server certificate for 127.0.0.1 it signed, as PEM files."""

    ca_pem: str
    certificate: Path
    key: Path


def make_ca(name: str = "DriftControl test registry CA") -> tuple[Any, Any]:
    """A new self-signed CA: (its private key, its certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _usage(cert_sign: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_tls(directory: Path) -> Tls:
    """A fresh CA and a certificate for 127.0.0.1 (and localhost) under ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key, ca = make_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    return Tls(ca_pem=ca_pem, certificate=cert_path, key=key_path)


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
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.directory / "storage")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": self.host,
                # Fixed, so that an upload's state survives stop() and start().
                "secret": "driftcontrol-test-registry",
                "tls": {"certificate": str(self.tls.certificate), "key": str(self.tls.key)},
            },
        }
        if self.auth:
            config["auth"] = self.auth
        return config

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
        context = ssl.create_default_context(cadata=self.ca_pem)
        try:
            with urllib.request.urlopen(f"https://{self.host}/v2/", context=context, timeout=2):
                return True
        except urllib.error.HTTPError as error:
            return error.code == 401
        except (OSError, ssl.SSLError):
            return False


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
