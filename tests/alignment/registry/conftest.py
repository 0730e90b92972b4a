"""Registries for the door's tests: the session's open one, and per module one behind basic
authentication (htpasswd, bcrypt), one behind token authentication (a token service of
ours issuing the JWTs distribution verifies), and a front that fails as busy registries do.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from alignment.registry import OCI_INDEX, Registry
from tests.plugins.registry import OciRegistry, launch, make_ca

USER, PASSWORD = "puller", "correct horse"


@pytest.fixture
def registry(oci_registry: OciRegistry) -> Iterator[Registry]:
    door = Registry(oci_registry.access())
    yield door
    door.close()


@pytest.fixture
def repository() -> str:
    """A repository of the test's own in the shared registry."""
    return f"shop/t{uuid.uuid4().hex[:12]}"


def _bcrypt(password: str) -> str:
    # Python 3.11's crypt (libxcrypt) makes the bcrypt hashes distribution's htpasswd
    # reads; cost 4, since the registry checks it on every request.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    """A registry that asks for basic credentials (USER, PASSWORD)."""
    directory = tmp_path_factory.mktemp("basic-registry")
    htpasswd = directory / "htpasswd"
    htpasswd.write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    registry = launch(directory, auth={"htpasswd": {"realm": "test", "path": str(htpasswd)}})
    yield registry
    registry.stop()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _libtrust_key_id(key: ec.EllipticCurvePrivateKey) -> str:
    """The "kid" distribution matches against its root bundle's keys (docs: spec/auth/jwt)."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    encoded = base64.b32encode(digest.finalize()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


@dataclass
class TokenService:
    """Issues ES256 JWTs to USER/PASSWORD for whatever scope is asked; counts requests."""

    key: ec.EllipticCurvePrivateKey
    service: str = "driftcontrol-test-registry"
    issuer: str = "driftcontrol-test-tokens"
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def token(self, subject: str, scope: str) -> str:
        access = []
        for part in scope.split():
            kind, _, rest = part.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "kid": _libtrust_key_id(self.key)}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        r, s = decode_dss_signature(
            self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _token_handler(service: TokenService) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            from urllib.parse import parse_qs, urlsplit

            query = parse_qs(urlsplit(self.path).query)
            service.requests.append(self.path)
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps(
                {"token": service.token(USER, " ".join(query.get("scope", []))), "expires_in": 300}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OciRegistry, TokenService]]:
    """A registry that takes only tokens from our token service (the distribution spec's
    Bearer flow), and the service."""
    directory = tmp_path_factory.mktemp("token-registry")
    key, certificate = make_ca("DriftControl test token issuer")
    bundle = directory / "token-issuer.crt"
    bundle.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    service = TokenService(key=key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(service))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}/token"
    auth = {
        "token": {
            "realm": service.url,
            "service": service.service,
            "issuer": service.issuer,
            "rootcertbundle": str(bundle),
        }
    }
    registry = launch(directory, auth=auth)
    yield registry, service
    registry.stop()
    server.shutdown()


@dataclass
class Front:
    """Plain HTTP in front of the test registry that answers ``failures`` (status codes,
    with ``retry_after`` on 429) before passing requests on. With ``referrers_api`` it
    serves the OCI 1.1 referrers API distribution 2.8 lacks, from the referrers tag
    schema's index (an empty index where there is none), ignoring the artifactType filter
    as the spec allows."""

    target: OciRegistry
    failures: list[int] = field(default_factory=list)
    retry_after: str = "1"
    referrers_api: bool = False
    seen: list[tuple[float, str, int]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    host: str = ""

    def upstream_path(self, path: str) -> str:
        match = re.match(r"^(/v2/.+)/referrers/sha256:([0-9a-f]{64})", path)
        if self.referrers_api and match:
            return f"{match[1]}/manifests/sha256-{match[2]}"
        return path


def _front_handler(front: Front, ca_file: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if front.failures:
                status = front.failures.pop(0)
                front.seen.append((time.monotonic(), self.command, status))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", front.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            front.paths.append(self.path)
            path = front.upstream_path(self.path)
            upstream = requests.request(
                self.command,
                f"https://{front.target.host}{path}",
                headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                verify=str(ca_file),
                timeout=10,
            )
            if path != self.path and upstream.status_code == 404:
                self._empty_index()
                return
            front.seen.append((time.monotonic(), self.command, upstream.status_code))
            self.send_response(upstream.status_code)
            for name, value in upstream.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(upstream.content)

        def _empty_index(self) -> None:
            body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
            self.send_response(200)
            self.send_header("Content-Type", OCI_INDEX)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        do_GET = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def front(oci_registry: OciRegistry, tmp_path: Path) -> Iterator[Front]:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(oci_registry.ca_pem)
    front = Front(target=oci_registry)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _front_handler(front, ca_file))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    front.host = f"127.0.0.1:{server.server_address[1]}"
    yield front
    server.shutdown()


def other_ca_pem() -> str:
    """A CA that signed nothing the test registry presents."""
    _, certificate = make_ca("Someone else's CA")
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def blob_file(registry: OciRegistry, digest: str) -> Path:
    """Where the registry's filesystem storage keeps a blob (or a manifest's bytes)."""
    hex_digest = digest.removeprefix("sha256:")
    root = registry.directory / "storage" / "docker" / "registry" / "v2" / "blobs"
    return root / "sha256" / hex_digest[:2] / hex_digest / "data"
