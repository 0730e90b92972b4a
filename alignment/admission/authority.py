"""The webhook's CA and serving certificate as the database holds them: made when missing,
the serving one replaced ADMISSION_CERT_RENEW_DAYS before it expires (or when a host the
API servers dial is missing from it) under the same CA, so that the caBundle written
into every cluster stays good. Private keys are sealed at rest; every issue is audited,
never with its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from alignment.admission import certs
from alignment.models import AdmissionCertificate, AdmissionInstallation
from driftcontrol import audit
from driftcontrol.crypto import seal, unseal

ACTOR = "system:admission"
CA_DAYS = 3650
# Any constant: it names the lock two processes take before they issue a certificate.
_ADVISORY_LOCK = 0x61646D697373  # "admiss"


@dataclass(frozen=True)
class Serving:
    """What `drift admission serve` needs to answer TLS, and what install gives clusters."""

    certificate_pem: str  # serving certificate
    private_key_pem: str
    ca_pem: str  # the CA bundle install writes into the webhook configuration
    not_after: datetime


def current(hosts: Sequence[str] | None = None) -> Serving:
    """The serving certificate for ``hosts`` (by default the configured ones), and its
    CA: issued now when there is none valid for another ADMISSION_CERT_RENEW_DAYS that
    names every host."""
    named = _configured(_installed_hosts()) if hosts is None else hosts
    wanted = list(dict.fromkeys(certs.canonical(host) for host in named))
    now = timezone.now()
    # Most calls find one: no lock, no write.
    serving = _usable(wanted, now)
    if serving is None:
        with transaction.atomic():
            _lock()
            # Another process may have issued one while this one waited for the lock.
            serving = _usable(wanted, now) or _issue_serving(wanted, now)
    return Serving(
        certificate_pem=serving.certificate_pem,
        private_key_pem=unseal(serving.private_key, "the admission serving key"),
        ca_pem=ca_bundle(),
        not_after=serving.not_after,
    )


def ca_bundle() -> str:
    """Every CA certificate still valid, newest first (PEM): the API server trusts a
    serving certificate signed by any of them, so a new CA can be brought in before the
    old one expires."""
    now = timezone.now()
    found = AdmissionCertificate.objects.filter(role="ca", not_after__gt=now)
    return "".join(row.certificate_pem for row in found.order_by("-not_after", "-id"))


def hosts() -> list[str]:
    """The names and addresses the serving certificate must carry: ADMISSION_HOSTS, the
    host of ADMISSION_PUBLIC_URL, and the host of every installation's URL (given with
    `install --url`): a renewal dropping one would make that cluster's calls fail."""
    return _configured(_installed_hosts())


def _installed_hosts() -> list[str]:
    urls = AdmissionInstallation.objects.filter(removed_at__isnull=True).values_list(
        "url", flat=True
    )
    return [str(urlsplit(url).hostname or "") for url in urls]


def _configured(extra: Sequence[str] = ()) -> list[str]:
    found = list(settings.ADMISSION_HOSTS)
    public = urlsplit(settings.ADMISSION_PUBLIC_URL).hostname
    if public:
        found.append(public)
    found += extra
    return list(dict.fromkeys(certs.canonical(host) for host in found if host))


def _usable(wanted: Sequence[str], now: datetime) -> AdmissionCertificate | None:
    """The newest serving certificate of the newest CA naming every wanted host and not
    yet due for renewal."""
    ca = _authority(now)
    if ca is None:
        return None
    renew_at = now + _renew_before()
    candidates = AdmissionCertificate.objects.filter(
        role="serving", issuer=ca, not_before__lte=now, not_after__gt=renew_at
    )
    for row in candidates.order_by("-not_after", "-id"):
        if set(wanted) <= set(row.hosts):
            return row
    return None


def _authority(now: datetime) -> AdmissionCertificate | None:
    """The newest CA that outlives the renewal window (an older one still signs nothing
    new, so its serving certificates are replaced under the new one)."""
    found = AdmissionCertificate.objects.filter(role="ca", not_after__gt=now + _renew_before())
    return found.order_by("-not_after", "-id").first()


def _issue_serving(wanted: Sequence[str], now: datetime) -> AdmissionCertificate:
    ca = _authority(now) or _store("ca", certs.new_authority(now, CA_DAYS), None, [])
    authority = certs.Issued(
        ca.certificate_pem,
        unseal(ca.private_key, "the admission CA's key"),
        ca.not_before,
        ca.not_after,
    )
    issued = certs.new_serving(authority, wanted, now, settings.ADMISSION_CERT_DAYS)
    return _store("serving", issued, ca, sorted(certs.names(issued.certificate_pem)))


def _store(
    role: str, issued: certs.Issued, issuer: AdmissionCertificate | None, names: list[str]
) -> AdmissionCertificate:
    row = AdmissionCertificate.objects.create(
        role=role,
        certificate_pem=issued.certificate_pem,
        private_key=seal(issued.private_key_pem),
        issuer=issuer,
        hosts=names,
        not_before=issued.not_before,
        not_after=issued.not_after,
    )
    data = {"role": role, "not_after": issued.not_after.isoformat(), "hosts": names}
    audit.record(ACTOR, "admission.certificate_issued", row, data)
    return row


def _renew_before() -> timedelta:
    days, renew = settings.ADMISSION_CERT_DAYS, settings.ADMISSION_CERT_RENEW_DAYS
    if renew >= days:
        # Every certificate would be due for renewal as soon as it is made: each call
        # would issue another.
        raise ImproperlyConfigured(
            f"ADMISSION_CERT_RENEW_DAYS ({renew}) must be less than ADMISSION_CERT_DAYS ({days})"
        )
    return timedelta(days=renew)


def _lock() -> None:
    """Two servers starting together must not make two CAs: on PostgreSQL they take one
    advisory lock for the transaction; SQLite's transactions here are IMMEDIATE (the
    settings), so the write lock is held from the start already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
