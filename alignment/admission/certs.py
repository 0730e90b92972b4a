"""The admission webhook's certificates, made here rather than by an operator: a CA whose
certificate goes into the ValidatingWebhookConfiguration's caBundle, and the serving
certificates it signs for the names and addresses the API servers dial.

ECDSA P-256: every TLS stack the API server has speaks it, the keys are made in a
millisecond, and a handshake costs a fraction of an RSA one. Pure: no database, no files
(alignment.admission.authority stores and rotates them).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

AUTHORITY_NAME = "DriftControl admission CA"
SERVING_NAME = "DriftControl admission webhook"
# A serving certificate is valid from a little before it was made: an API server whose
# clock runs behind ours would otherwise refuse it as not yet valid.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key (PEM, the key unencrypted: seal it to store it)."""

    certificate_pem: str
    private_key_pem: str
    not_before: datetime
    not_after: datetime


def new_authority(now: datetime, days: int = 3650) -> Issued:
    """A self-signed CA valid for ``days``: it signs the serving certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(AUTHORITY_NAME)
    not_before, not_after = now - CLOCK_SKEW, now + timedelta(days=days)
    identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        _builder(subject, subject, key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(identifier, critical=False)
        .sign(key, hashes.SHA256())
    )
    return _issued(certificate, key)


def new_serving(ca: Issued, hosts: Sequence[str], now: datetime, days: int) -> Issued:
    """A server certificate signed by ``ca`` for ``hosts`` (DNS names and IP addresses,
    each in the subjectAltName the client checks), valid for ``days``."""
    if not hosts:
        raise ValueError("a serving certificate needs at least one host")
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.encode(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the admission CA's key is not an ECDSA key")
    ca_certificate = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
    key = ec.generate_private_key(ec.SECP256R1())
    not_before = now - CLOCK_SKEW
    # Never valid past its CA: a client would refuse the chain from then on anyway.
    not_after = min(now + timedelta(days=days), ca_certificate.not_valid_after_utc)
    authority_key = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    certificate = (
        _builder(
            _name(SERVING_NAME), ca_certificate.subject, key.public_key(), not_before, not_after
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_alternatives(hosts)), critical=False)
        .add_extension(authority_key, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _issued(certificate, key)


def names(certificate_pem: str) -> set[str]:
    """The DNS names and IP addresses a certificate is valid for (its subjectAltName)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    try:
        alternatives = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return set()
    found = set(alternatives.get_values_for_type(x509.DNSName))
    found |= {str(address) for address in alternatives.get_values_for_type(x509.IPAddress)}
    return found


def fingerprint(certificate_pem: str) -> str:
    """SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` shows it."""
    der = x509.load_pem_x509_certificate(certificate_pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def canonical(host: str) -> str:
    """A host as a certificate names it: an IP address in its usual spelling (::1 for
    0:0:0:0:0:0:0:1), a DNS name in lower case."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host.lower().rstrip(".")


def _alternatives(hosts: Sequence[str]) -> list[x509.GeneralName]:
    found: list[x509.GeneralName] = []
    for host in dict.fromkeys(canonical(host) for host in hosts):
        try:
            found.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            found.append(x509.DNSName(host))
    return found


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DriftControl"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    """A CA signs certificates (and CRLs); a server's key signs its handshakes (ECDHE)."""
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


def _issued(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    return Issued(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )
