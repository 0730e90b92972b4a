"""The formats cosign, DSSE, in-toto, SLSA and Rekor write, for tests/support/oci.py:
keys, signatures, payloads and statements, built as those tools build them."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
REKOR_ANNOTATION = "dev.sigstore.cosign/bundle"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"


# -- keys -------------------------------------------------------------------------------


def ecdsa_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 key, cosign's default kind."""
    return ec.generate_private_key(ec.SECP256R1())


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: PrivateKey) -> str:
    """The PEM SubjectPublicKeyInfo a lane's signer lists."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def fingerprint(key: PrivateKey) -> str:
    """The key's "sha256:<hex>" fingerprint (of its DER public key), as
    alignment.supply.keys names keys and as the bundles' publicKey.hint carries it."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"sha256:{hashlib.sha256(der).hexdigest()}"


def signature_over(key: PrivateKey, message: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding, what an envelope's signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def cosign_payload(docker_reference: str, digest: str) -> bytes:
    """cosign's simple-signing payload, serialised as cosign writes it."""
    payload = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def slsa_v1(
    digest: str, builder: str, source_uri: str, revision: str, level: int | None = None
) -> dict[str, Any]:
    """An in-toto v1 statement with an SLSA v1 provenance predicate for the image ``digest``,
    as slsa-github-generator writes it; ``level`` goes where alignment.supply.provenance
    reads a stated level (the builder's ``slsaBuildLevel``)."""
    builder_object: dict[str, Any] = {"id": builder}
    if level is not None:
        builder_object["slsaBuildLevel"] = level
    predicate = {
        "buildDefinition": {
            "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "externalParameters": {
                "workflow": {
                    "ref": "refs/heads/main",
                    "repository": source_uri,
                    "path": ".github/workflows/release.yml",
                }
            },
            "internalParameters": {"github": {"event_name": "push"}},
            "resolvedDependencies": [
                {"uri": f"git+{source_uri}@refs/heads/main", "digest": {"gitCommit": revision}}
            ],
        },
        "runDetails": {
            "builder": builder_object,
            "metadata": {"invocationId": f"{source_uri}/actions/runs/1/attempts/1"},
        },
    }
    return in_toto_statement("", digest, SLSA_V1, predicate, "https://in-toto.io/Statement/v1")


def slsa_v02(
    digest: str, builder: str, source_uri: str, revision: str, level: int | None = None
) -> dict[str, Any]:
    """The same claims as an in-toto v0.1 statement with an SLSA v0.2 predicate."""
    builder_object: dict[str, Any] = {"id": builder}
    if level is not None:
        builder_object["slsaBuildLevel"] = level
    source = {"uri": f"git+{source_uri}@refs/heads/main", "digest": {"sha1": revision}}
    predicate = {
        "builder": builder_object,
        "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
        "invocation": {
            "configSource": {**source, "entryPoint": ".github/workflows/release.yml"},
            "parameters": {},
        },
        "metadata": {"buildInvocationID": "1-1", "completeness": {"parameters": True}},
        "materials": [source],
    }
    return in_toto_statement("", digest, SLSA_V02, predicate, "https://in-toto.io/Statement/v0.1")


def in_toto_statement(
    name: str,
    digest: str,
    predicate_type: str,
    predicate: dict[str, Any],
    statement_type: str = "https://in-toto.io/Statement/v1",
) -> dict[str, Any]:
    algorithm, _, value = digest.partition(":")
    return {
        "_type": statement_type,
        "subject": [{"name": name, "digest": {algorithm: value}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def dsse_envelope(key: PrivateKey, statement: dict[str, Any], tamper: bool) -> dict[str, Any]:
    payload = json.dumps(statement, separators=(",", ":")).encode()
    signed = pae(IN_TOTO, payload + b"\n" if tamper else payload)
    return {
        "payloadType": IN_TOTO,
        "payload": b64(payload),
        "signatures": [{"keyid": "", "sig": b64(signature_over(key, signed))}],
    }


def hashedrekord(key: PrivateKey, payload: bytes, signature: bytes) -> dict[str, Any]:
    """The Rekor entry cosign's signature upload makes: the payload's hash, the signature
    and the public key (base64 of its PEM)."""
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {
                "content": b64(signature),
                "publicKey": {"content": b64(public_pem(key).encode())},
            },
        },
    }


def intoto_entry(key: PrivateKey, envelope: dict[str, Any], raw: bytes) -> dict[str, Any]:
    """The Rekor ``intoto`` v0.0.2 entry cosign's attestation upload makes (sig and
    publicKey base64 once more, as Rekor stores them)."""
    payload = base64.b64decode(envelope["payload"])
    signatures = [
        {"sig": b64(s["sig"].encode()), "publicKey": b64(public_pem(key).encode())}
        for s in envelope["signatures"]
    ]
    return {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {"payloadType": envelope["payloadType"], "signatures": signatures},
                "hash": {"algorithm": "sha256", "value": hashlib.sha256(raw).hexdigest()},
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(payload).hexdigest(),
                },
            }
        },
    }


def rekor_bundle(body: dict[str, Any]) -> str:
    """cosign's ``dev.sigstore.cosign/bundle`` annotation around a Rekor entry. The
    SignedEntryTimestamp is a placeholder, not Rekor's signature: nothing may trust it."""
    body_raw = json.dumps(body, separators=(",", ":")).encode()
    bundle = {
        "SignedEntryTimestamp": b64(b"placeholder: no transparency log signed this entry"),
        "Payload": {
            "body": b64(body_raw),
            "integratedTime": int(datetime.datetime.now(datetime.UTC).timestamp()),
            "logIndex": 0,
            "logID": hashlib.sha256(b"driftcontrol test log").hexdigest(),
        },
    }
    return json.dumps(bundle, separators=(",", ":"))
