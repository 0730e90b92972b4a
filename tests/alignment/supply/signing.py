"""Signatures and attestations built byte for byte as cosign and the Sigstore bundle spec
write them, with keys made here: what the pure verifier's tests feed it (the registry tests
push the same formats through tests/support/oci.py)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from alignment.supply import dsse
from alignment.supply.cosign import DSSE_LAYER, SIGNATURE, SIMPLE_SIGNING, SignatureLayer
from tests.support.oci_formats import (  # keys and Rekor entries as the registry tests make them
    PrivateKey,
    b64,
    cosign_payload,
    hashedrekord,
    rekor_bundle,
)
from tests.support.oci_formats import ecdsa_key as ecdsa_key
from tests.support.oci_formats import ed25519_key as ed25519_key
from tests.support.oci_formats import public_pem as public_pem
from tests.support.oci_formats import signature_over as sign

IMAGE = "registry.example:5000/shop/web"
BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
COMMIT = "1ac93ce21ee526b36fd154b9058d97dfaa424c50"


def simple_signing(digest: str, reference: str = IMAGE) -> bytes:
    """cosign's payload, exactly as `cosign sign` marshals it."""
    return cosign_payload(reference, digest)


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
    return rekor_bundle(hashedrekord(key, payload, signature))


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
