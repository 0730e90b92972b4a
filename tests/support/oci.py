"""Build, push, sign and attest images in a real OCI registry, as real tools write them.

What the tests, ``scripts/demo`` and ``bench/`` use against the test registry (the
`oci_registry` fixture, tests/plugins/registry.py). Test tooling, not the product: it talks
HTTP with requests directly; the product reads only through alignment.registry.

Formats, byte for byte as their tools write them:

- an image: an OCI image manifest with a config blob and one layer (``push_image``), or an
  OCI index over several of them (``push_index``; signatures attach to the index digest);
- cosign's signature tag ``sha256-<hex>.sig``: one layer per signature, media type
  ``application/vnd.dev.cosign.simplesigning.v1+json``, the simple-signing payload as the
  blob, annotation ``dev.cosignproject.cosign/signature`` (base64), and with ``rekor_hint``
  ``dev.sigstore.cosign/bundle``: cosign's Rekor bundle, whose hashedrekord body carries
  the public key. Its SignedEntryTimestamp is a placeholder, no Rekor's signature: the
  product reads the key from it to tell a tampered signature from an unknown key, and must
  never take the entry as proof of anything;
- cosign's attestation tag ``sha256-<hex>.att``: layers of media type
  ``application/vnd.dsse.envelope.v1+json`` holding DSSE envelopes of in-toto statements,
  annotation ``predicateType`` (and the Rekor bundle, an ``intoto`` entry, with ``rekor_hint``);
- Sigstore bundles (v0.3, a DSSE envelope and ``verificationMaterial.publicKey.hint``, the
  key's "sha256:<hex>" fingerprint) as OCI 1.1 referrers, the layout of cosign's
  specs/BUNDLE_SPEC.md: an image manifest with ``artifactType`` and ``subject``, the empty
  config, the bundle as its one layer. A registry without the referrers API (Debian's 2.8)
  gets the referrers tag schema's index under ``sha256-<hex>``, kept up to date here as the
  distribution spec asks of clients.

ECDSA P-256 signs with SHA-256 (DER signatures), Ed25519 signs the message itself.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

from tests.support.oci_formats import (
    BUNDLE_V03,
    COSIGN_SIGN_PREDICATE,
    DSSE_ENVELOPE,
    REKOR_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    SLSA_V02,
    SLSA_V1,
    PrivateKey,
    b64,
    cosign_payload,
    dsse_envelope,
    ecdsa_key,
    ed25519_key,
    fingerprint,
    hashedrekord,
    in_toto_statement,
    intoto_entry,
    public_pem,
    rekor_bundle,
    signature_over,
    slsa_v02,
    slsa_v1,
)
from tests.support.oci_push import (
    EMPTY_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    descriptor,
    digest_of,
)

__all__ = [
    "SLSA_V02",
    "SLSA_V1",
    "attest",
    "cosign_payload",
    "delete_manifest",
    "digest_of",
    "ecdsa_key",
    "ed25519_key",
    "fingerprint",
    "public_pem",
    "push_image",
    "push_index",
    "sign",
    "slsa_v02",
    "slsa_v1",
]


# -- images ------------------------------------------------------------------------------


def push_image(
    host: str,
    ca_pem: str,
    repository: str,
    tag: str,
    *,
    content: bytes,
    credentials: tuple[str, str] | None = None,
) -> str:
    """Push a small OCI image (a config blob, one layer holding ``content``, a manifest)
    and tag it; returns the manifest's digest. The same content gives the same digest."""
    client = Client(host, ca_pem, credentials)
    layer = client.blob(repository, content, "application/vnd.oci.image.layer.v1.tar")
    diff_id = digest_of(content)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        },
        separators=(",", ":"),
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": client.blob(repository, config, "application/vnd.oci.image.config.v1+json"),
        "layers": [layer],
    }
    return client.manifest(repository, tag, manifest)


def push_index(
    host: str,
    ca_pem: str,
    repository: str,
    tag: str,
    *,
    platforms: Mapping[str, bytes],
    credentials: tuple[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """A multi-arch image: one image per platform ("linux/amd64": content) and an OCI index
    over them, tagged. Returns (the index digest, {platform: image digest})."""
    client = Client(host, ca_pem, credentials)
    images, entries = {}, []
    for platform, content in platforms.items():
        digest = push_image(host, ca_pem, repository, "", content=content, credentials=credentials)
        _, raw = client.get_manifest(repository, digest)
        os_name, _, architecture = platform.partition("/")
        entry = descriptor(OCI_MANIFEST, raw)
        entry["platform"] = {"architecture": architecture, "os": os_name}
        images[platform] = digest
        entries.append(entry)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    return client.manifest(repository, tag, index), images


def delete_manifest(
    host: str, ca_pem: str, repository: str, digest: str, credentials: tuple[str, str] | None = None
) -> None:
    """Delete a manifest by digest (and so every tag on it): the test registry allows it."""
    Client(host, ca_pem, credentials).delete(repository, digest)


# -- signatures and attestations --------------------------------------------------------


def sign(
    host: str,
    ca_pem: str,
    repository: str,
    digest: str,
    key: PrivateKey,
    *,
    scheme: str = "cosign",
    tamper: bool = False,
    name_key: bool = True,
    rekor_hint: bool = True,
    credentials: tuple[str, str] | None = None,
) -> str:
    """Sign the image ``digest`` with ``key``; returns the digest of the manifest holding the
    signature (the ``.sig`` tag's, which grows by a layer per signature, or the bundle's).

    ``tamper``: the signature is a real one by ``key``, over other bytes than the payload
    it comes with (so it names its key but does not verify with it). ``name_key``: the
    signature says which key made it (the bundle's hint; for cosign the Rekor bundle
    annotation, present only when ``rekor_hint`` too)."""
    client = Client(host, ca_pem, credentials)
    reference = f"{host}/{repository}"
    if scheme == "bundle":
        statement = in_toto_statement(reference, digest, COSIGN_SIGN_PREDICATE, {})
        return _push_bundle(client, repository, digest, key, statement, tamper, name_key)
    if scheme != "cosign":
        raise ValueError(f"unknown scheme {scheme!r}: cosign or bundle")
    payload = cosign_payload(reference, digest)
    signature = signature_over(key, payload + b"\n" if tamper else payload)
    annotations = {SIGNATURE_ANNOTATION: b64(signature)}
    if name_key and rekor_hint:
        body = hashedrekord(key, payload, signature)
        annotations[REKOR_ANNOTATION] = rekor_bundle(body)
    return _append_layer(client, repository, digest, ".sig", SIMPLE_SIGNING, payload, annotations)


def attest(
    host: str,
    ca_pem: str,
    repository: str,
    digest: str,
    key: PrivateKey,
    statement: dict[str, Any],
    *,
    scheme: str = "cosign",
    tamper: bool = False,
    name_key: bool = True,
    rekor_hint: bool = True,
    credentials: tuple[str, str] | None = None,
) -> str:
    """Attach ``statement`` (an in-toto statement, see slsa_v1) to the image ``digest``,
    signed by ``key`` in a DSSE envelope; ``tamper``, ``name_key`` and ``rekor_hint`` as
    for `sign`. A subject without a name gets the repository's, as cosign names it."""
    client = Client(host, ca_pem, credentials)
    statement = json.loads(json.dumps(statement))
    for subject in statement.get("subject", []):
        subject["name"] = subject.get("name") or f"{host}/{repository}"
    if scheme == "bundle":
        return _push_bundle(client, repository, digest, key, statement, tamper, name_key)
    if scheme != "cosign":
        raise ValueError(f"unknown scheme {scheme!r}: cosign or bundle")
    envelope = dsse_envelope(key, statement, tamper)
    raw = json.dumps(envelope, separators=(",", ":")).encode()
    annotations = {"predicateType": str(statement.get("predicateType", ""))}
    if name_key and rekor_hint:
        annotations[REKOR_ANNOTATION] = rekor_bundle(intoto_entry(key, envelope, raw))
    return _append_layer(client, repository, digest, ".att", DSSE_ENVELOPE, raw, annotations)


def _append_layer(
    client: Client,
    repository: str,
    digest: str,
    suffix: str,
    media_type: str,
    blob: bytes,
    annotations: dict[str, str],
) -> str:
    """Add a layer to cosign's ``sha256-<hex><suffix>`` manifest (created if absent), as
    cosign adds a second signature beside the first."""
    tag = digest.replace(":", "-", 1) + suffix
    found = client.get_manifest(repository, tag)
    layers = json.loads(found[1])["layers"] if found else []
    layer = client.blob(repository, blob, media_type)
    layers.append({**layer, "annotations": annotations})
    diff_ids = [entry["digest"] for entry in layers]
    config = json.dumps(
        {
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {},
        },
        separators=(",", ":"),
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": client.blob(repository, config, "application/vnd.oci.image.config.v1+json"),
        "layers": layers,
    }
    return client.manifest(repository, tag, manifest)


def _push_bundle(
    client: Client,
    repository: str,
    digest: str,
    key: PrivateKey,
    statement: dict[str, Any],
    tamper: bool,
    name_key: bool,
) -> str:
    """A Sigstore bundle v0.3 around a DSSE envelope of ``statement``, pushed as a referrer
    of ``digest`` (cosign's BUNDLE_SPEC layout)."""
    bundle = {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": fingerprint(key)} if name_key else {}},
        "dsseEnvelope": dsse_envelope(key, statement, tamper),
    }
    raw = json.dumps(bundle, separators=(",", ":")).encode()
    layer = client.blob(repository, raw, BUNDLE_V03)
    layer["annotations"] = {
        "org.opencontainers.image.title": digest_of(raw).replace(":", "-") + ".sigstore.json"
    }
    _, subject_raw = client.get_manifest(repository, digest) or ("", b"")
    subject_type = json.loads(subject_raw).get("mediaType", OCI_MANIFEST)
    annotations = {
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": str(statement["predicateType"]),
        "org.opencontainers.image.created": _rfc3339_now(),
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_V03,
        "config": client.blob(repository, b"{}", EMPTY_CONFIG),
        "layers": [layer],
        "subject": descriptor(subject_type, subject_raw),
        "annotations": annotations,
    }
    raw_manifest = json.dumps(manifest, separators=(",", ":")).encode()
    pushed = client.manifest(repository, digest_of(raw_manifest), manifest)
    entry = {**descriptor(OCI_MANIFEST, raw_manifest), "artifactType": BUNDLE_V03}
    client.add_referrer(repository, digest, {**entry, "annotations": annotations})
    return pushed


def _rfc3339_now() -> str:
    """As cosign writes org.opencontainers.image.created: 2024-03-08T18:18:20.406Z."""
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
