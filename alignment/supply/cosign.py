"""cosign's tag schemes: signatures in the `sha256-<hex>.sig` manifest, attestations in
`sha256-<hex>.att`, one layer each, as cosign writes them (github.com/sigstore/cosign,
specs/SIGNATURE_SPEC.md).

A signature layer's blob is a "simple signing" payload naming the image digest; the
signature over it sits in the `dev.cosignproject.cosign/signature` annotation. The key is
named by the `dev.sigstore.cosign/certificate` annotation (keyless) or by the public key
inside the `dev.sigstore.cosign/bundle` annotation's Rekor entry. That Rekor bundle's signed
timestamp is not checked: it proves nothing offline without the log's inclusion proof, and
keyless trust is only granted to Sigstore bundles (bundles.py), which carry one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from alignment.supply import dsse, provenance
from alignment.supply.keys import (
    Attribution,
    NamedKey,
    PublicKey,
    UnsupportedKey,
    attribute,
    by_hint,
    fingerprint,
    identity,
    load_certificate,
    load_public_key,
    supported,
    verifies,
)
from alignment.supply.verdict import INVALID, UNTRUSTED, Provenance, Signature

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_LAYER = "application/vnd.dsse.envelope.v1+json"
SIGNATURE = "dev.cosignproject.cosign/signature"
CERTIFICATE = "dev.sigstore.cosign/certificate"
REKOR_BUNDLE = "dev.sigstore.cosign/bundle"
PREDICATE_TYPE = "predicateType"
SIGNATURE_TYPE = "cosign container image signature"
MAX_PAYLOAD = 1 << 20  # a simple-signing payload is a few hundred bytes; an envelope, KBs
_KEYLESS_LAYER = (
    "a keyless .sig signature: only Sigstore bundles are checked against the trusted root"
)


@dataclass(frozen=True)
class SignatureLayer:
    """One layer of a cosign .sig or .att manifest, as the registry door hands it over."""

    payload: bytes  # the layer blob
    media_type: str
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class _Named:
    key: PublicKey
    who: str  # a key fingerprint, or a certificate identity "SAN (issuer)"
    certificate: bool


def judge_signature(layer: SignatureLayer, digest: str, ring: Iterable[NamedKey]) -> Signature:
    """A .sig layer's signature of the image `digest`, judged against the lane's keys."""
    try:
        _check_simple_signing(layer.payload, digest)
        signature = dsse.b64(layer.annotations.get(SIGNATURE), f"the {SIGNATURE} annotation")
        named = _named_key(layer)
    except UnsupportedKey as error:
        return Signature("cosign", "", UNTRUSTED, str(error))
    except ValueError as error:
        return Signature("cosign", "", INVALID, str(error))
    verdict = _attribute(ring, lambda key: verifies(key, signature, layer.payload), named)
    return Signature("cosign", verdict.signer, verdict.state, verdict.reason)


def judge_attestation(
    layer: SignatureLayer, digest: str, ring: Iterable[NamedKey]
) -> Provenance | None:
    """A .att layer's SLSA provenance for the image `digest`, or None when the layer holds a
    statement about something else (another digest, another predicate type)."""
    stated_type = str(layer.annotations.get(PREDICATE_TYPE, ""))[:200]
    try:
        if len(layer.payload) > MAX_PAYLOAD:
            raise ValueError(f"the attestation is larger than {MAX_PAYLOAD} bytes")
        envelope = dsse.parse_envelope(layer.payload)
        if envelope.payload_type != dsse.IN_TOTO_PAYLOAD:
            raise ValueError(f"the envelope's payloadType is {envelope.payload_type[:80]!r}")
        statement = dsse.parse_statement(envelope.payload)
        named = _named_key(layer)
    except UnsupportedKey as error:
        return _unreadable(stated_type, UNTRUSTED, str(error))
    except ValueError as error:
        return _unreadable(stated_type, INVALID, str(error))
    if statement.predicate_type not in provenance.PREDICATE_TYPES or not statement.names(digest):
        return None
    ring = tuple(ring)
    if named is None:  # cosign leaves keyid empty; one may still name a lane key
        hinted = [found for keyid, _ in envelope.signatures if (found := by_hint(ring, keyid))]
        named = _Named(hinted[0].key, hinted[0].fingerprint, False) if hinted else None
    verdict = _attribute(ring, lambda key: dsse.signed_by(envelope, key), named)
    return provenance.attested(statement, verdict, "cosign")


def _unreadable(predicate_type: str, state: str, reason: str) -> Provenance:
    return Provenance(predicate_type, "", None, "", "", state, "", reason, "cosign")


def _attribute(
    ring: Iterable[NamedKey], signed: Callable[[PublicKey], bool], named: _Named | None
) -> Attribution:
    if named is None:
        return attribute(ring, signed, None, "")
    verdict = attribute(ring, signed, named.key, named.who)
    if named.certificate and verdict.state == UNTRUSTED:
        return Attribution(UNTRUSTED, named.who, _KEYLESS_LAYER)
    return verdict


def _check_simple_signing(payload: bytes, digest: str) -> None:
    """ValueError unless `payload` is a cosign simple-signing payload naming `digest`."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"the signature payload is larger than {MAX_PAYLOAD} bytes")
    data = dsse.load_json(payload, "the signature payload")
    critical = data.get("critical") if isinstance(data, dict) else None
    if not isinstance(critical, dict):
        raise ValueError("the signature payload has no critical section")
    if critical.get("type") != SIGNATURE_TYPE:
        raise ValueError(f"the signature payload's type is not {SIGNATURE_TYPE!r}")
    image = critical.get("image")
    named = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(named, str):
        raise ValueError("the signature payload names no image digest")
    if named != digest:
        raise ValueError(f"the signature payload names another image: {named[:80]}")


def _named_key(layer: SignatureLayer) -> _Named | None:
    """The key a layer's annotations name: its certificate's, or the one in its Rekor entry."""
    pem = layer.annotations.get(CERTIFICATE)
    if pem:
        return _from_pem(pem)
    rekor = layer.annotations.get(REKOR_BUNDLE)
    if rekor:
        return _from_pem(_rekor_public_key(rekor, layer.payload))
    return None


def _from_pem(pem: str) -> _Named:
    if "CERTIFICATE" in pem:
        certificate = load_certificate(pem)
        return _Named(supported(certificate.public_key()), identity(certificate), True)
    key = load_public_key(pem)
    return _Named(key, fingerprint(key), False)


def _rekor_public_key(raw: str, payload: bytes) -> str:
    """The PEM (key or certificate) in a cosign Rekor bundle annotation's entry body:
    hashedrekord for signatures, intoto or dsse for attestations."""
    try:
        annotation = dsse.load_json(raw, "the Rekor bundle annotation")
        body = dsse.load_json(dsse.b64(annotation["Payload"]["body"], "its entry body"), "its body")
        kind, spec = body["kind"], body["spec"]
        if kind == "hashedrekord":
            stated = spec["data"]["hash"]["value"]
            if stated != hashlib.sha256(payload).hexdigest():
                raise ValueError("the Rekor bundle annotation records another payload")
            encoded = spec["signature"]["publicKey"]["content"]
        elif kind == "intoto":
            encoded = spec["content"]["envelope"]["signatures"][0]["publicKey"]
        elif kind == "dsse":
            encoded = spec["signatures"][0]["verifier"]
        else:
            raise ValueError(f"the Rekor bundle annotation holds a {str(kind)[:40]} entry")
        return dsse.b64(encoded, "the Rekor entry's public key").decode()
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ValueError("the Rekor bundle annotation is malformed") from None
