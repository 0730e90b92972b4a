"""The webhook's certificates (alignment.admission.certs): a CA the API server is given,
and serving certificates that a TLS client trusting only that CA accepts for the names
and addresses it dials, proven with real handshakes."""

from __future__ import annotations

import hashlib
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from alignment.admission.certs import (
    AUTHORITY_NAME,
    Issued,
    canonical,
    fingerprint,
    names,
    new_authority,
    new_serving,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def handshake(serving: Issued, ca: Issued, server_hostname: str, tmp_path: Path) -> str:
    """A TLS handshake in memory between a server holding ``serving`` and a client that
    trusts only ``ca`` and dials ``server_hostname``; the subject the client verified."""
    (tmp_path / "cert.pem").write_text(serving.certificate_pem)
    (tmp_path / "key.pem").write_text(serving.private_key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.load_verify_locations(cadata=ca.certificate_pem)
    pipes = [(ssl.MemoryBIO(), ssl.MemoryBIO()) for _ in range(2)]
    client = client_context.wrap_bio(*pipes[0], server_hostname=server_hostname)
    server = server_context.wrap_bio(*pipes[1], server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for side, tls in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    tls.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        # What each side wrote is what the other reads.
        pipes[1][0].write(pipes[0][1].read())
        pipes[0][0].write(pipes[1][1].read())
        if all(done.values()):
            break
    assert all(done.values()), "the handshake did not finish"
    peer = client.getpeercert()
    assert peer is not None
    return dict(part[0] for part in peer["subject"])["commonName"]


def test_a_client_trusting_only_the_ca_accepts_the_serving_certificate_by_ip(
    tmp_path: Path,
) -> None:
    ca = new_authority(datetime.now(UTC))
    serving = new_serving(ca, ["127.0.0.1", "localhost"], datetime.now(UTC), days=90)

    assert handshake(serving, ca, "127.0.0.1", tmp_path) == "DriftControl admission webhook"
    assert handshake(serving, ca, "localhost", tmp_path) == "DriftControl admission webhook"


def test_a_name_the_certificate_does_not_carry_is_refused(tmp_path: Path) -> None:
    ca = new_authority(datetime.now(UTC))
    serving = new_serving(ca, ["127.0.0.1"], datetime.now(UTC), days=90)

    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(serving, ca, "admission.example.com", tmp_path)


def test_a_certificate_signed_by_another_ca_is_refused(tmp_path: Path) -> None:
    ours, theirs = new_authority(datetime.now(UTC)), new_authority(datetime.now(UTC))
    serving = new_serving(theirs, ["127.0.0.1"], datetime.now(UTC), days=90)

    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        handshake(serving, ours, "127.0.0.1", tmp_path)


def test_the_ca_signs_certificates_and_nothing_else() -> None:
    ca = x509.load_pem_x509_certificate(new_authority(NOW).certificate_pem.encode())

    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.critical and constraints.value.ca
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert ca.subject.rfc4514_string() == f"CN={AUTHORITY_NAME},O=DriftControl"
    assert ca.not_valid_after_utc == NOW + timedelta(days=3650)


def test_the_serving_certificate_names_ips_as_addresses_and_is_for_servers_only() -> None:
    ca = new_authority(NOW)
    issued = new_serving(ca, ["10.0.0.7", "Admission.Example.com", "::1"], NOW, 90)
    serving = x509.load_pem_x509_certificate(issued.certificate_pem.encode())

    alternatives = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [str(ip) for ip in alternatives.get_values_for_type(x509.IPAddress)] == [
        "10.0.0.7",
        "::1",
    ]
    assert alternatives.get_values_for_type(x509.DNSName) == ["admission.example.com"]
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert not serving.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_serving_certificate_allows_for_clock_skew_and_never_outlives_its_ca() -> None:
    ca = new_authority(NOW, days=30)
    serving = new_serving(ca, ["127.0.0.1"], NOW, days=90)

    assert NOW - timedelta(minutes=10) < serving.not_before < NOW
    assert serving.not_after == ca.not_after


def test_names_reads_back_what_the_certificate_was_made_for() -> None:
    ca = new_authority(NOW)
    serving = new_serving(ca, ["127.0.0.1", "localhost", "[::1]", "webhook.local."], NOW, 90)

    assert names(serving.certificate_pem) == {"127.0.0.1", "localhost", "::1", "webhook.local"}
    assert names(ca.certificate_pem) == set()


def test_hosts_are_compared_as_certificates_spell_them() -> None:
    assert canonical("0:0:0:0:0:0:0:1") == "::1"
    assert canonical("Admission.Example.COM.") == "admission.example.com"


def test_the_fingerprint_is_openssls_sha256() -> None:
    issued = new_authority(NOW)

    der = ssl.PEM_cert_to_DER_cert(issued.certificate_pem)
    expected = hashlib.sha256(der).hexdigest().upper()

    found = fingerprint(issued.certificate_pem)

    assert found.replace(":", "") == expected and found[2] == ":" and len(found) == 95


def test_a_serving_certificate_needs_a_host() -> None:
    with pytest.raises(ValueError, match="at least one host"):
        new_serving(new_authority(NOW), [], NOW, 90)
