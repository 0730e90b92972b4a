"""How DriftControl reaches the OCI registries it verifies images in: per host, the
credentials (sealed at rest) and the CA its TLS certificate chains to. Every change is
audited, without the secret; a bad value is refused with what and where, and nothing
stored changes."""

from __future__ import annotations

import re

from cryptography import x509
from django.db import transaction

from alignment.models import RegistryCredential
from driftcontrol import audit
from driftcontrol.crypto import seal

# A host as image references name it: a DNS name or an address, with an optional port.
HOST = re.compile(
    r"^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?)(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(?::\d{1,5})?$"
)
MAX_CA_BYTES = 256 * 1024


class BadRegistry(ValueError):
    """A registry setting that cannot be stored, and why."""


def check_host(host: str) -> str:
    """The host as images name it (`ghcr.io`, `10.0.0.5:5000`), or BadRegistry."""
    host = host.strip().lower()
    if "://" in host or "/" in host:
        raise BadRegistry(f"{host!r}: give the host as images name it (ghcr.io), no scheme or path")
    if not HOST.match(host) or len(host) > 253:
        raise BadRegistry(f"{host!r}: not a registry host (a DNS name or address, optional :port)")
    return host


def check_ca(ca_pem: str, where: str) -> str:
    """PEM CA certificates, each readable, or BadRegistry naming ``where``."""
    if not ca_pem.strip():
        return ""
    if len(ca_pem.encode()) > MAX_CA_BYTES:
        raise BadRegistry(f"{where}: larger than {MAX_CA_BYTES // 1024} KiB")
    try:
        found = x509.load_pem_x509_certificates(ca_pem.encode())
    except ValueError as error:
        raise BadRegistry(f"{where}: not PEM certificates ({error})") from error
    if not found:
        raise BadRegistry(f"{where}: holds no certificate")
    return ca_pem.strip() + "\n"


def save(
    host: str, actor: audit.Actor, *, username: str = "", password: str = "", ca_pem: str = ""
) -> tuple[RegistryCredential, bool]:
    """Store how to reach ``host`` (replacing what was stored); (row, created)."""
    host = check_host(host)
    ca = check_ca(ca_pem, f"{host}: the CA")
    if password and not username:
        raise BadRegistry(f"{host}: a password needs a username (tokens: the registry's user)")
    with transaction.atomic():
        stored, created = RegistryCredential.objects.select_for_update().update_or_create(
            host=host,
            defaults={
                "username": username,
                "password": seal(password) if password else "",
                "ca_pem": ca,
            },
        )
        audit.record(
            actor,
            "registry.created" if created else "registry.changed",
            stored,
            {"host": host, "username": username, "password": bool(password), "ca": bool(ca)},
        )
    return stored, created


def remove(host: str, actor: audit.Actor) -> bool:
    """Forget ``host``'s credentials and CA; False when none were stored."""
    with transaction.atomic():
        stored = RegistryCredential.objects.select_for_update().filter(host=host).first()
        if stored is None:
            return False
        audit.record(actor, "registry.removed", stored, {"host": host})
        stored.delete()
    return True
