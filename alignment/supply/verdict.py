"""What the verifier concludes about one image digest: its signatures and its provenance,
each judged under one trust configuration. Plain data, cached as JSON per (digest, trust)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

TRUSTED = "trusted"  # verifies with a lane signer
UNTRUSTED = "untrusted"  # valid-looking, but its signer is no lane signer
INVALID = "invalid"  # broken or altered: does not verify with the key it names, or is malformed
STATES = (TRUSTED, UNTRUSTED, INVALID)


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature found for an image, and whether the lane trusts it."""

    scheme: str  # "cosign" (the sha256-<hex>.sig tag), "bundle" (OCI 1.1 referrer)
    # who: a lane signer's name, a key fingerprint "sha256:<hex>", or a certificate
    # identity "SAN (issuer)"
    signer: str
    state: str  # TRUSTED, UNTRUSTED or INVALID
    reason: str = ""  # one line, for invalid and untrusted


@dataclass(frozen=True, slots=True)
class Provenance:
    """One SLSA provenance statement naming the image, as it claims, and whether the
    envelope that carries it is signed by a lane signer."""

    predicate_type: str  # https://slsa.dev/provenance/v1 or .../v0.2
    builder: str  # builder id
    level: int | None  # SLSA build level the statement or builder mapping claims
    source: str  # source repository, normalised: git+https://github.com/a/b.git -> https://...
    revision: str  # commit sha as stated ("" if none)
    signature: str  # TRUSTED, UNTRUSTED or INVALID (the DSSE envelope's signature)
    signer: str = ""
    reason: str = ""  # why the attestation does not count, if it does not
    scheme: str = "cosign"  # "cosign" (.att tag) or "bundle" (referrer)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the registry holds for one digest, judged under one trust configuration."""

    digest: str  # sha256:<hex> of the image manifest
    signatures: tuple[Signature, ...] = ()
    provenance: tuple[Provenance, ...] = ()  # only statements whose subject names `digest`

    @property
    def signed(self) -> bool:
        return any(s.state == TRUSTED for s in self.signatures)

    def as_dict(self) -> dict[str, Any]:
        """JSON for the cache row."""
        return {
            "digest": self.digest,
            "signatures": [asdict(s) for s in self.signatures],
            "provenance": [asdict(p) for p in self.provenance],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        """The inverse of as_dict; keys a newer version added are ignored, missing ones take
        their defaults (a cache row outlives the code that wrote it)."""
        return cls(
            digest=str(data["digest"]),
            signatures=tuple(_build(Signature, s) for s in data.get("signatures", ())),
            provenance=tuple(_build(Provenance, p) for p in data.get("provenance", ())),
        )


_Entry = TypeVar("_Entry", Signature, Provenance)


def _build(kind: type[_Entry], values: Mapping[str, Any]) -> _Entry:
    known = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in values.items() if k in known})
