"""Public keys and signing certificates, as far as the verifier reads them: load a PEM key
(ECDSA P-256 or Ed25519, cosign's kinds), name it by fingerprint, check one signature, and
read who a Fulcio certificate was issued to. Trust in a certificate is never decided here:
that is sigstore's Verifier's job against a trusted root (see bundles.py)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat import asn1
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from alignment.supply.verdict import INVALID, TRUSTED, UNTRUSTED

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

# Fulcio's certificate extensions for the OIDC issuer: 1.1 holds raw UTF-8 (deprecated),
# 1.8 a DER UTF8String; newer certificates carry both, older ones only 1.1.
_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_OTHER_NAME_SAN = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


class BadKey(ValueError):
    """A key or certificate that cannot be used; the message says why."""


class UnsupportedKey(BadKey):
    """A readable key of a kind we do not verify (RSA, ECDSA on another curve)."""


@dataclass(frozen=True, slots=True)
class NamedKey:
    """A lane signer's key, loaded once per judgement."""

    name: str
    key: PublicKey
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who signed something, and whether the lane trusts them (a verdict state)."""

    state: str
    signer: str
    reason: str = ""


def attribute(
    ring: Iterable[NamedKey],
    signed: Callable[[PublicKey], bool],
    named: PublicKey | None,
    named_as: str,
) -> Attribution:
    """Judge a signature by the key it names (`named`, shown as `named_as`), or, when it
    names none we hold, by the lane's keys. `signed(key)` checks the signature with a key.

    Naming a key and not verifying with it is tampering (invalid); verifying with a key the
    lane does not list, or naming none and verifying with no lane key, is untrusted: we
    cannot tell an unknown key's signature from a broken one without that key.
    """
    ring = tuple(ring)
    if named is not None:
        if not signed(named):
            return Attribution(INVALID, named_as, "does not verify with the key it names")
        lane = find(ring, named)
        if lane is not None:
            return Attribution(TRUSTED, lane.name)
        return Attribution(UNTRUSTED, named_as, "not a signer of this lane")
    lane = next((k for k in ring if signed(k.key)), None)
    if lane is not None:
        return Attribution(TRUSTED, lane.name)
    if named_as:
        return Attribution(UNTRUSTED, named_as, "names a key that is no signer of this lane")
    return Attribution(UNTRUSTED, "", "names no key and verifies with none of the lane's keys")


def load_public_key(pem: str | bytes) -> PublicKey:
    """A PEM SubjectPublicKeyInfo as an ECDSA P-256 or Ed25519 key; BadKey otherwise."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        raise BadKey("not a PEM public key (expected -----BEGIN PUBLIC KEY-----)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise BadKey(f"unreadable PEM public key: {error}") from None
    return supported(key)


def supported(key: object) -> PublicKey:
    """`key` if it is of a kind cosign signs with and we verify, else BadKey naming it."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return key
        raise UnsupportedKey(f"an ECDSA key on {key.curve.name}: only P-256 is supported")
    kind = type(key).__name__
    raise UnsupportedKey(f"a {kind}: only ECDSA P-256 and Ed25519 keys are supported")


def fingerprint(key: PublicKey) -> str:
    """ "sha256:<hex>" of the key's DER SubjectPublicKeyInfo: how a key is named in evidence."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"sha256:{hashlib.sha256(der).hexdigest()}"


def keyring(signers: Iterable[tuple[str, str]]) -> tuple[NamedKey, ...]:
    """The lane's keyed signers (name, PEM) as keys. Lane validation already refuses bad
    PEM; a key that still does not load here is left out, so it can never vouch."""
    found = []
    for name, pem in signers:
        try:
            key = load_public_key(pem)
        except BadKey:
            continue
        found.append(NamedKey(name, key, fingerprint(key)))
    return tuple(found)


def find(ring: Iterable[NamedKey], key: PublicKey) -> NamedKey | None:
    wanted = fingerprint(key)
    return next((k for k in ring if k.fingerprint == wanted), None)


def by_hint(ring: Iterable[NamedKey], hint: str) -> NamedKey | None:
    """The lane key a Sigstore bundle's `publicKey.hint` names. The spec leaves the hint's
    form to the signer; we accept the signer's name, our "sha256:<hex>" fingerprint, its
    hex, or the base64 of the SHA-256 of the DER key (what sigstore-go and cosign write)."""
    if not hint:
        return None
    for named in ring:
        raw = bytes.fromhex(named.fingerprint.removeprefix("sha256:"))
        forms = {
            named.name,
            named.fingerprint,
            raw.hex(),
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode(),
        }
        forms |= {f.rstrip("=") for f in forms}
        if hint in forms:
            return named
    return None


def verifies(key: PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is `key`'s over `message`: ECDSA with SHA-256 (DER signature), or
    pure Ed25519, as cosign signs payloads and DSSE envelopes."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def verifies_digest(key: PublicKey, signature: bytes, sha256: bytes) -> bool:
    """Whether `signature` is `key`'s over a message known only by its SHA-256 (a Sigstore
    bundle's messageSignature). Ed25519 signs whole messages, so only ECDSA can be checked."""
    if not isinstance(key, ec.EllipticCurvePublicKey) or len(sha256) != 32:
        return False
    try:
        key.verify(signature, sha256, ec.ECDSA(Prehashed(hashes.SHA256())))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_certificate(pem: str | bytes) -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise BadKey(f"unreadable PEM certificate: {error}") from None


def identity(certificate: x509.Certificate) -> str:
    """Who a Fulcio certificate was issued to, as evidence shows it: "SAN (issuer)"."""
    return f"{san(certificate)} ({issuer(certificate)})"


def san(certificate: x509.Certificate) -> str:
    """The certificate's identity: its first URI, e-mail or Sigstore other-name SAN."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    values = [
        *names.get_values_for_type(x509.UniformResourceIdentifier),
        *names.get_values_for_type(x509.RFC822Name),
        *(
            other.value.decode(errors="replace")
            for other in names.get_values_for_type(x509.OtherName)
            if other.type_id == _OTHER_NAME_SAN
        ),
    ]
    return values[0] if values else ""


def issuer(certificate: x509.Certificate) -> str:
    """The OIDC issuer Fulcio recorded in the certificate, "" when it names none."""
    for oid in (_ISSUER_V2, _ISSUER_V1):
        try:
            value = certificate.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        try:
            return asn1.decode_der(str, raw) if oid == _ISSUER_V2 else raw.decode()
        except ValueError:
            continue
    return ""
