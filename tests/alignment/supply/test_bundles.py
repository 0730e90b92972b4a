"""Sigstore bundles signed with a key, as OCI 1.1 referrers carry them
(alignment.supply.bundles through verify.judge)."""

from __future__ import annotations

import base64
import hashlib
import json

from alignment.supply import keys
from alignment.supply.verify import Artifacts, KeyedSigner, Trust, judge
from tests.alignment.supply import signing

DIGEST = "sha256:" + hashlib.sha256(b"an image manifest").hexdigest()
OTHER = "sha256:" + hashlib.sha256(b"another image manifest").hexdigest()


def lane(key):
    return Trust((KeyedSigner("release", signing.public_pem(key)),))


def fingerprint(key):
    return keys.fingerprint(keys.load_public_key(signing.public_pem(key)))


def evidence(*bundles, trust, digest=DIGEST):
    return judge(Artifacts(digest, bundles=bundles), trust)


def with_signature_flipped(raw: bytes) -> bytes:
    bundle = json.loads(raw)
    holder = bundle.get("messageSignature") or bundle["dsseEnvelope"]["signatures"][0]
    field = "signature" if "signature" in holder else "sig"
    signature = bytearray(base64.b64decode(holder[field]))
    signature[-3] ^= 0x01
    holder[field] = base64.b64encode(bytes(signature)).decode()
    return json.dumps(bundle).encode()


def test_a_message_signature_over_the_manifest_digest_by_a_lane_key_is_trusted():
    key = signing.ecdsa_key()
    (signature,) = evidence(signing.keyed_bundle(key, DIGEST), trust=lane(key)).signatures
    assert (signature.scheme, signature.signer, signature.state) == ("bundle", "release", "trusted")


def test_the_hint_names_the_key_and_a_tampered_signature_under_it_is_invalid():
    key = signing.ecdsa_key()
    hint = base64.b64encode(bytes.fromhex(fingerprint(key)[7:])).decode()
    raw = signing.keyed_bundle(key, DIGEST, hint=hint)
    assert evidence(raw, trust=lane(key)).signatures[0].state == "trusted"
    (broken,) = evidence(with_signature_flipped(raw), trust=lane(key)).signatures
    assert (broken.state, broken.signer) == ("invalid", fingerprint(key))


def test_a_bundle_by_a_key_the_lane_does_not_list_is_untrusted():
    key, stranger = signing.ecdsa_key(), signing.ecdsa_key()
    (signature,) = evidence(
        signing.keyed_bundle(stranger, DIGEST, hint="ci-key-2"), trust=lane(key)
    ).signatures
    assert (signature.state, signature.signer) == ("untrusted", "ci-key-2")
    assert signature.reason == "names a key that is no signer of this lane"


def test_a_message_signature_over_another_digest_is_invalid():
    key = signing.ecdsa_key()
    (signature,) = evidence(signing.keyed_bundle(key, OTHER), trust=lane(key)).signatures
    assert (signature.state, signature.reason) == (
        "invalid",
        "the message signature is over another digest",
    )


def test_a_dsse_bundle_with_cosigns_signing_predicate_is_a_signature():
    key = signing.ed25519_key()
    raw = signing.keyed_bundle(key, DIGEST, content=signing.cosign_sign_statement(DIGEST))
    found = evidence(raw, trust=lane(key))
    assert [(s.scheme, s.state) for s in found.signatures] == [("bundle", "trusted")]
    assert found.provenance == ()
    (broken,) = evidence(with_signature_flipped(raw), trust=lane(key)).signatures
    assert broken.state == "untrusted"  # it names no key: a broken and a stranger's look alike
    hinted = signing.keyed_bundle(
        key, DIGEST, content=signing.cosign_sign_statement(DIGEST), hint="release"
    )
    assert evidence(with_signature_flipped(hinted), trust=lane(key)).signatures[0].state == (
        "invalid"
    )


def test_a_signing_statement_naming_another_image_is_invalid():
    key = signing.ecdsa_key()
    raw = signing.keyed_bundle(key, DIGEST, content=signing.cosign_sign_statement(OTHER))
    (signature,) = evidence(raw, trust=lane(key)).signatures
    assert (signature.state, signature.reason) == ("invalid", "the statement names another image")


def test_a_dsse_bundle_with_slsa_provenance_is_provenance():
    key = signing.ecdsa_key()
    raw = signing.keyed_bundle(key, DIGEST, content=signing.slsa_v1(DIGEST))
    found = evidence(raw, trust=lane(key))
    (attested,) = found.provenance
    assert found.signatures == ()
    assert (attested.scheme, attested.signature, attested.signer) == (
        "bundle",
        "trusted",
        "release",
    )
    assert (attested.builder, attested.level, attested.revision) == (
        signing.BUILDER,
        3,
        signing.COMMIT,
    )
    # Provenance of another image, or an SBOM, is not this image's provenance.
    others = (
        signing.keyed_bundle(key, DIGEST, content=signing.slsa_v1(OTHER)),
        signing.keyed_bundle(
            key, DIGEST, content=signing.statement(DIGEST, "https://spdx.dev/Document", {})
        ),
    )
    assert evidence(*others, trust=lane(key)) == judge(Artifacts(DIGEST), lane(key))


def test_an_ed25519_message_signature_cannot_be_checked_and_says_why():
    key = signing.ed25519_key()
    bundle = json.loads(signing.keyed_bundle(signing.ecdsa_key(), DIGEST, hint="release"))
    sha = bytes.fromhex(DIGEST[7:])
    bundle["messageSignature"]["signature"] = signing.b64(key.sign(sha))
    (signature,) = evidence(json.dumps(bundle).encode(), trust=lane(key)).signatures
    assert signature.state == "invalid"
    assert "Ed25519" in signature.reason


def test_keyless_bundles_are_never_trusted_without_a_trusted_root():
    from tests.alignment.supply.test_public_bundle import ARTIFACT, BUNDLE, SIGNER

    digest = "sha256:" + hashlib.sha256(ARTIFACT.read_bytes()).hexdigest()
    trust = Trust((SIGNER,), trusted_root_json="")
    (signature,) = evidence(BUNDLE.read_bytes(), trust=trust, digest=digest).signatures
    assert (signature.state, signature.reason) == (
        "untrusted",
        "no Sigstore trusted root is configured",
    )
