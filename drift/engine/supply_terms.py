"""What a lane requires of the images its workloads run (the Lane document's
`requireDigest`, `signers` and `provenance`): their shape, and their validation. The same
function serves `Lane.clean`, `drift apply`, the API and the lane form; the `supply.*`
alignment rules judge running and declared images against it.

    requireDigest: true                  # images pinned as name@sha256:...
    signers:
      - name: release                    # keyed: a PEM public key, ECDSA P-256 or Ed25519
        key: |
          -----BEGIN PUBLIC KEY-----
          ...
      - name: ci                         # keyless: a Sigstore certificate identity
        keyless:
          issuer: https://token.actions.githubusercontent.com
          subject: https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main
          # or subjectPattern: ^https://github\\.com/acme/   (a regular expression on the SAN)
    provenance:
      required: true                     # an SLSA provenance attestation (v1 or v0.2)
      builders:                          # absent: any builder the lane's signers vouch for
        - id: https://github.com/slsa-framework/slsa-github-generator/...@refs/tags/v2.0.0
          minLevel: 3
      sourceRepositories: [https://github.com/acme/shop]   # absent: the policy's Git source
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from drift.engine.rules import Problem

KEYS = ("requireDigest", "signers", "provenance")
PROVENANCE_KEYS = ("required", "builders", "sourceRepositories")
_SIGNER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_MAX_PATTERN = 512


def terms(spec: dict[str, Any]) -> dict[str, Any]:
    """The supply keys a Lane document's spec sets (what `Lane.supply` stores)."""
    return {key: spec[key] for key in KEYS if key in spec}


def problems(value: Any, path: str) -> list[Problem]:
    """Every problem of a lane's supply terms, each under its own path (`path.signers[0].key`);
    `path` is "" for a document's spec, where the keys sit beside the lane's others."""
    if not isinstance(value, dict):
        return [Problem(path or "spec", "must be a mapping")]
    at = f"{path}." if path else ""
    found: list[Problem] = []
    for key in sorted(set(value) - set(KEYS)):
        found.append(Problem(f"{at}{key}", f"unknown key; expected one of {', '.join(KEYS)}"))
    if "requireDigest" in value and not isinstance(value["requireDigest"], bool):
        found.append(Problem(f"{at}requireDigest", "must be true or false"))
    if "signers" in value:
        found += _signers(value["signers"], f"{at}signers")
    if "provenance" in value:
        found += _provenance(value["provenance"], f"{at}provenance")
    return found


def _signers(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, list):
        return [Problem(path, "must be a list of signers (name, and key or keyless)")]
    found: list[Problem] = []
    names: set[str] = set()
    for index, signer in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(signer, dict):
            found.append(Problem(where, "must be a mapping with name, and key or keyless"))
            continue
        name = signer.get("name")
        if not isinstance(name, str) or not _SIGNER_NAME.match(name):
            found.append(Problem(f"{where}.name", "required: lowercase letters, digits, - and ."))
        elif name in names:
            found.append(Problem(f"{where}.name", f"{name} is listed twice"))
        else:
            names.add(name)
        for key in sorted(set(signer) - {"name", "key", "keyless"}):
            found.append(Problem(f"{where}.{key}", "unknown key; expected name, key or keyless"))
        if ("key" in signer) == ("keyless" in signer):
            found.append(Problem(where, "needs exactly one of key (PEM) or keyless"))
        elif "key" in signer:
            found += _public_key(signer["key"], f"{where}.key")
        else:
            found += _keyless(signer["keyless"], f"{where}.keyless")
    return found


def _public_key(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, str) or "-----BEGIN PUBLIC KEY-----" not in value:
        return [Problem(path, "must be a PEM public key (-----BEGIN PUBLIC KEY-----)")]
    try:
        key = serialization.load_pem_public_key(value.encode())
    except (ValueError, TypeError) as error:
        return [Problem(path, f"is not a readable PEM public key: {error}")]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return []
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return []
    return [Problem(path, "must be an ECDSA P-256 or an Ed25519 key (cosign's kinds)")]


def _keyless(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(path, "must be a mapping: issuer, and subject or subjectPattern")]
    found: list[Problem] = []
    for key in sorted(set(value) - {"issuer", "subject", "subjectPattern"}):
        found.append(
            Problem(f"{path}.{key}", "unknown key; expected issuer, subject or subjectPattern")
        )
    issuer = value.get("issuer")
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        found.append(Problem(f"{path}.issuer", "required: the OIDC issuer's https:// URL"))
    if ("subject" in value) == ("subjectPattern" in value):
        found.append(Problem(path, "needs exactly one of subject or subjectPattern"))
    elif "subject" in value and not (isinstance(value["subject"], str) and value["subject"]):
        found.append(Problem(f"{path}.subject", "must be the certificate's identity (SAN)"))
    elif "subjectPattern" in value:
        found += _pattern(value["subjectPattern"], f"{path}.subjectPattern")
    return found


def _pattern(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, str) or not value or len(value) > _MAX_PATTERN:
        return [Problem(path, f"must be a regular expression of 1 to {_MAX_PATTERN} characters")]
    try:
        re.compile(value)
    except re.error as error:
        return [Problem(path, f"is not a regular expression: {error}")]
    return []


def _provenance(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(path, "must be a mapping: required, builders, sourceRepositories")]
    found: list[Problem] = []
    for key in sorted(set(value) - set(PROVENANCE_KEYS)):
        expected = ", ".join(PROVENANCE_KEYS)
        found.append(Problem(f"{path}.{key}", f"unknown key; expected one of {expected}"))
    if "required" in value and not isinstance(value["required"], bool):
        found.append(Problem(f"{path}.required", "must be true or false"))
    builders = value.get("builders", [])
    if not isinstance(builders, list):
        found.append(Problem(f"{path}.builders", "must be a list of {id, minLevel}"))
        builders = []
    for index, builder in enumerate(builders):
        found += _builder(builder, f"{path}.builders[{index}]")
    sources = value.get("sourceRepositories", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        found.append(Problem(f"{path}.sourceRepositories", "must be a list of repository URLs"))
    return found


def _builder(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
        return [Problem(path, "must be a mapping with the builder's id")]
    found: list[Problem] = []
    for key in sorted(set(value) - {"id", "minLevel"}):
        found.append(Problem(f"{path}.{key}", "unknown key; expected id or minLevel"))
    level = value.get("minLevel", 0)
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 4:
        found.append(Problem(f"{path}.minLevel", "must be an SLSA build level, 0 to 4"))
    return found
