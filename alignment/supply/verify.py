"""Judge what a registry holds for one image digest under one lane's trust configuration.

`judge(artifacts, trust)` is pure: the registry door (alignment/registry.py) fetches the
artifacts, this decides. It never raises on what a registry serves: anything malformed or
hostile becomes an "invalid" entry with its reason, so a broken signature is reported as
broken and never mistaken for a missing one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from alignment.supply import keys
from alignment.supply.bundles import judge_bundle, verify_blob_bundle
from alignment.supply.cosign import SignatureLayer, judge_attestation, judge_signature
from alignment.supply.verdict import INVALID, Evidence, Provenance, Signature

__all__ = [
    "Artifacts",
    "KeyedSigner",
    "KeylessSigner",
    "SignatureLayer",
    "Trust",
    "judge",
    "verify_blob_bundle",
]

# Bumped when a change to the verifier could change a verdict: cached evidence is keyed by
# the trust fingerprint, which includes it, so every image is judged again.
VERIFIER_VERSION = 1
# More is a registry making us work: real images carry one or two of each.
MAX_PER_KIND = 64

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyedSigner:
    name: str
    public_key_pem: str


@dataclass(frozen=True)
class KeylessSigner:
    name: str
    issuer: str
    subject: str = ""  # the certificate's SAN, exactly
    subject_pattern: str = ""  # or a regular expression searched in it


@dataclass(frozen=True)
class Trust:
    """One lane's signers, and the Sigstore trusted root its keyless signers are checked
    against ("" = keyless signatures are never trusted)."""

    signers: tuple[KeyedSigner | KeylessSigner, ...] = ()
    trusted_root_json: str = ""

    def fingerprint(self) -> str:
        """sha256 hex of a canonical form: the trust part of the evidence cache key."""
        signers = [
            {"name": s.name, "key": s.public_key_pem.strip()}
            if isinstance(s, KeyedSigner)
            else {
                "name": s.name,
                "issuer": s.issuer,
                "subject": s.subject,
                "subjectPattern": s.subject_pattern,
            }
            for s in self.signers
        ]
        root = hashlib.sha256(self.trusted_root_json.encode()).hexdigest()
        canonical = {"verifier": VERIFIER_VERSION, "signers": signers, "trustedRoot": root}
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def keyring(self) -> tuple[keys.NamedKey, ...]:
        return keys.keyring(
            (s.name, s.public_key_pem) for s in self.signers if isinstance(s, KeyedSigner)
        )

    def keyless(self) -> tuple[KeylessSigner, ...]:
        return tuple(s for s in self.signers if isinstance(s, KeylessSigner))


@dataclass(frozen=True)
class Artifacts:
    """Everything a registry holds about one image digest, as raw as it came."""

    digest: str  # sha256:<hex> of the image manifest
    cosign_signatures: tuple[SignatureLayer, ...] = ()  # the .sig manifest's layers
    cosign_attestations: tuple[SignatureLayer, ...] = ()  # the .att manifest's (DSSE)
    bundles: tuple[bytes, ...] = ()  # Sigstore bundle JSON from OCI 1.1 referrers


def judge(artifacts: Artifacts, trust: Trust) -> Evidence:
    """The evidence for `artifacts.digest` under `trust`."""
    digest, ring, root = artifacts.digest, trust.keyring(), trust.trusted_root_json
    found: list[Signature | Provenance] = []
    for layer in artifacts.cosign_signatures[:MAX_PER_KIND]:
        found += _safely(partial(judge_signature, layer, digest, ring), _broken_signature)
    for layer in artifacts.cosign_attestations[:MAX_PER_KIND]:
        found += _safely(partial(judge_attestation, layer, digest, ring), _broken_attestation)
    for raw in artifacts.bundles[:MAX_PER_KIND]:
        check = partial(judge_bundle, raw, digest, ring, trust.keyless(), root)
        found += _safely(check, partial(_broken_signature, scheme="bundle"))
    return Evidence(
        digest,
        tuple(f for f in found if isinstance(f, Signature)),
        tuple(f for f in found if isinstance(f, Provenance)),
    )


def _safely(
    check: Callable[[], Signature | Provenance | None],
    broken: Callable[[str], Signature | Provenance],
) -> list[Signature | Provenance]:
    """Run one artifact's check. What it raises on input nobody anticipated makes that one
    artifact invalid, instead of failing the image's whole evidence (or the scan)."""
    try:
        found = check()
    except Exception as error:  # hostile input must never abort a scan
        log.warning("unexpected error judging a supply chain artifact", exc_info=True)
        return [broken(f"unreadable ({type(error).__name__})")]
    return [] if found is None else [found]


def _broken_signature(reason: str, scheme: str = "cosign") -> Signature:
    return Signature(scheme, "", INVALID, reason)


def _broken_attestation(reason: str) -> Provenance:
    return Provenance("", "", None, "", "", INVALID, "", reason, "cosign")
