"""Signatures and attestations built byte for byte as cosign and the Sigstore bundle spec
write them, with keys made here: what the pure verifier's tests feed it (the registry tests
push the same formats through tests/support/oci.py)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from alignment.supply import dsse
from alignment.supply.cosign import DSSE_LAYER, SIGNATURE, SIMPLE_SIGNING, SignatureLayer

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
IMAGE = "registry.example:5000/shop/web"
BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
COMMIT = "1ac93ce21ee526b36fd154b9058d97dfaa424c50"


def ecdsa_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: PrivateKey, message: bytes) -> bytes:
    """As cosign signs: ECDSA P-256 over SHA-256 (DER), or pure Ed25519."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def simple_signing(digest: str, reference: str = IMAGE) -> bytes:
    """cosign's payload, exactly as `cosign sign` marshals it."""
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        },
        separators=(",", ":"),
    ).encode()


def cosign_signature(
    key: PrivateKey, digest: str, *, rekor: bool = False, payload: bytes | None = None
) -> SignatureLayer:
    """One layer of the sha256-<hex>.sig manifest. With `rekor`, the key is named the way
    cosign names it after a transparency log upload: inside the Rekor bundle annotation."""
    payload = simple_signing(digest) if payload is None else payload
    signature = sign(key, payload)
    annotations = {SIGNATURE: b64(signature)}
    if rekor:
        annotations["dev.sigstore.cosign/bundle"] = rekor_annotation(key, payload, signature)
    return SignatureLayer(payload, SIMPLE_SIGNING, annotations)


def rekor_annotation(key: PrivateKey, payload: bytes, signature: bytes) -> str:
    """cosign's `dev.sigstore.cosign/bundle`: a Rekor hashedrekord entry and its SET."""
    body = {
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
    return json.dumps(
        {
            "SignedEntryTimestamp": b64(b"not checked offline"),
            "Payload": {
                "body": b64(json.dumps(body).encode()),
                "integratedTime": 1700000000,
                "logIndex": 1,
                "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
            },
        }
    )


def statement(digest: str, predicate_type: str, predicate: dict[str, Any]) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": IMAGE, "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def envelope(key: PrivateKey, content: dict[str, Any], keyid: str = "") -> dict[str, Any]:
    payload = json.dumps(content).encode()
    signature = sign(key, dsse.pae(dsse.IN_TOTO_PAYLOAD, payload))
    return {
        "payloadType": dsse.IN_TOTO_PAYLOAD,
        "payload": b64(payload),
        "signatures": [{"keyid": keyid, "sig": b64(signature)}],
    }


def cosign_attestation(key: PrivateKey, content: dict[str, Any]) -> SignatureLayer:
    """One layer of the sha256-<hex>.att manifest, as `cosign attest` writes it."""
    return SignatureLayer(
        json.dumps(envelope(key, content)).encode(),
        DSSE_LAYER,
        {"predicateType": content["predicateType"]},
    )


def slsa_v1(
    digest: str,
    builder: str = BUILDER,
    source: str = "https://github.com/acme/shop",
    revision: str = COMMIT,
) -> dict[str, Any]:
    return statement(
        digest,
        "https://slsa.dev/provenance/v1",
        {
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {
                    "workflow": {"repository": source, "ref": "refs/heads/main"}
                },
                "resolvedDependencies": [
                    {"uri": f"git+{source}@refs/heads/main", "digest": {"gitCommit": revision}}
                ],
            },
            "runDetails": {"builder": {"id": builder}},
        },
    )


def slsa_v02(
    digest: str,
    builder: str = BUILDER,
    source: str = "https://github.com/acme/shop",
    revision: str = COMMIT,
) -> dict[str, Any]:
    return statement(
        digest,
        "https://slsa.dev/provenance/v0.2",
        {
            "builder": {"id": builder},
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
            "invocation": {
                "configSource": {
                    "uri": f"git+{source}@refs/heads/main",
                    "digest": {"sha1": revision},
                    "entryPoint": ".github/workflows/release.yml",
                }
            },
        },
    )


def keyed_bundle(
    key: PrivateKey, digest: str, *, content: dict[str, Any] | None = None, hint: str = ""
) -> bytes:
    """A Sigstore bundle v0.3 signed with a key, as an OCI 1.1 referrer carries it: over the
    manifest digest (ECDSA only), or over an in-toto statement in a DSSE envelope."""
    material = {"publicKey": {"hint": hint}, "tlogEntries": []}
    bundle: dict[str, Any] = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": material,
    }
    if content is not None:
        bundle["dsseEnvelope"] = envelope(key, content)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        sha = bytes.fromhex(digest.removeprefix("sha256:"))
        signature = key.sign(sha, ec.ECDSA(Prehashed(hashes.SHA256())))
        bundle["messageSignature"] = {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(sha)},
            "signature": b64(signature),
        }
    return json.dumps(bundle).encode()


def cosign_sign_statement(digest: str) -> dict[str, Any]:
    """What cosign (v3, bundle format) signs for an image: a statement with its own predicate."""
    return statement(digest, "https://sigstore.dev/cosign/sign/v1", {})
