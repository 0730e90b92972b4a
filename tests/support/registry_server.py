"""Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1 with TLS: a CA and a
certificate for 127.0.0.1 made with ``cryptography``, the registry's configuration, and the
probe that says it answers.

Shared by the tests' fixture (tests/plugins/registry.py) and the demo's registry
(scripts/demo_supply.py), which runs without the test dependencies: nothing here needs
pytest or Django.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the package puts it (`dpkg -L docker-registry`).
BINARY = Path("/usr/bin/docker-registry")


@dataclass
class Tls:
    """A CA and a server certificate for 127.0.0.1 it signed, as PEM files."""

    ca_pem: str
    certificate: Path
    key: Path


def make_ca(name: str = "DriftControl test registry CA", days: int = 2) -> tuple[Any, Any]:
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
        .not_valid_after(now + datetime.timedelta(days=days))
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


def make_tls(
    directory: Path, *, days: int = 2, ca_name: str = "DriftControl test registry CA"
) -> Tls:
    """A fresh CA and a certificate for 127.0.0.1 (and localhost), valid for ``days``,
    under ``directory``: server.crt, server.key and the CA's ca.crt."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key, ca = make_ca(ca_name, days)
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
        .not_valid_after(now + datetime.timedelta(days=days))
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
    key_path.chmod(0o600)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    (directory / "ca.crt").write_text(ca_pem)
    return Tls(ca_pem=ca_pem, certificate=cert_path, key=key_path)


def config(
    host: str, storage: Path, tls: Tls, *, secret: str, auth: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The registry's configuration: ``host`` (127.0.0.1:port) over TLS, filesystem storage
    in ``storage``, deletes enabled. ``secret`` signs upload state: a fixed one lets an
    upload survive a restart."""
    found: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": host,
            "secret": secret,
            "tls": {"certificate": str(tls.certificate), "key": str(tls.key)},
        },
    }
    if auth:
        found["auth"] = auth
    return found


def alive(host: str, ca_pem: str) -> bool:
    """Whether /v2/ answers over TLS: 200, or 401 for one that wants credentials."""
    context = ssl.create_default_context(cadata=ca_pem)
    try:
        with urllib.request.urlopen(f"https://{host}/v2/", context=context, timeout=2):
            return True
    except urllib.error.HTTPError as error:
        return error.code == 401
    except (OSError, ssl.SSLError):
        return False
