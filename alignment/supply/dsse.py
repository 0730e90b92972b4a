"""DSSE envelopes and the in-toto statements inside them.

A DSSE signature covers PAE(payloadType, payload), never the JSON around it
(github.com/secure-systems-lab/dsse, protocol.md); an in-toto Statement names the artifacts
it speaks for by digest (github.com/in-toto/attestation, v0.1 and v1).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from alignment.supply.keys import NamedKey, PublicKey, verifies

IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
STATEMENT_TYPES = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
MAX_SIGNATURES = 16  # a real envelope carries one; more is a way to make us work


@dataclass(frozen=True, slots=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]  # (keyid, signature)

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    digest: Mapping[str, str]  # algorithm -> hex, e.g. {"sha256": "ab12..."}


@dataclass(frozen=True, slots=True)
class Statement:
    statement_type: str
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any]

    def names(self, digest: str) -> bool:
        """Whether one of the statement's subjects is the artifact `digest` ("sha256:<hex>")."""
        algorithm, _, value = digest.partition(":")
        return bool(value) and any(s.digest.get(algorithm) == value for s in self.subjects)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature actually signs."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def parse_envelope(raw: bytes | Mapping[str, Any]) -> Envelope:
    """A DSSE envelope from its JSON (or the mapping a Sigstore bundle holds); ValueError
    says what is missing or malformed."""
    data = load_json(raw, "the DSSE envelope") if isinstance(raw, bytes | bytearray) else raw
    if not isinstance(data, Mapping):
        raise ValueError("a DSSE envelope must be a JSON object")
    payload_type = data.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise ValueError("the DSSE envelope has no payloadType")
    signatures = data.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise ValueError("the DSSE envelope has no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise ValueError(f"the DSSE envelope has {len(signatures)} signatures")
    read = []
    for entry in signatures:
        if not isinstance(entry, Mapping):
            raise ValueError("a DSSE signature must be an object with sig and keyid")
        keyid = entry.get("keyid") or ""
        read.append((keyid if isinstance(keyid, str) else "", b64(entry.get("sig"), "sig")))
    return Envelope(payload_type, b64(data.get("payload"), "payload"), tuple(read))


def signed_by(envelope: Envelope, key: PublicKey) -> bool:
    """Whether any of the envelope's signatures is `key`'s over its PAE."""
    message = envelope.pae()
    return any(verifies(key, signature, message) for _, signature in envelope.signatures)


def signer_among(envelope: Envelope, ring: Iterable[NamedKey]) -> NamedKey | None:
    """The first lane key that signed the envelope, when it names no key of its own."""
    return next((named for named in ring if signed_by(envelope, named.key)), None)


def parse_statement(payload: bytes) -> Statement:
    """An in-toto Statement (v0.1 or v1) from a DSSE payload; ValueError if it is none."""
    data = load_json(payload, "the in-toto statement")
    if not isinstance(data, Mapping):
        raise ValueError("the in-toto statement must be a JSON object")
    statement_type = data.get("_type")
    if statement_type not in STATEMENT_TYPES:
        raise ValueError(f"not an in-toto Statement (_type {str(statement_type)[:80]!r})")
    predicate_type = data.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise ValueError("the in-toto statement has no predicateType")
    predicate = data.get("predicate", {})
    if not isinstance(predicate, Mapping):
        raise ValueError("the in-toto statement's predicate must be an object")
    subjects = data.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise ValueError("the in-toto statement names no subject")
    return Statement(
        statement_type, tuple(_subject(s) for s in subjects), predicate_type, predicate
    )


def _subject(value: Any) -> Subject:
    if not isinstance(value, Mapping) or not isinstance(value.get("digest"), Mapping):
        raise ValueError("an in-toto subject must be an object with a digest")
    digest = {str(k): v for k, v in value["digest"].items() if isinstance(v, str)}
    name = value.get("name", "")
    return Subject(name if isinstance(name, str) else "", digest)


def load_json(raw: bytes | str, what: str) -> Any:
    """JSON from a registry, ValueError naming `what` if it is not (nesting too deep for
    Python's parser included)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError(f"{what} is not JSON") from None


def b64(value: Any, what: str) -> bytes:
    """Base64 as DSSE and Sigstore write it, ValueError naming the field otherwise. DSSE
    receivers must accept the URL-safe alphabet too, and padding may be left off."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a base64 string")
    standard = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None
