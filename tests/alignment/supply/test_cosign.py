"""cosign's .sig scheme (alignment.supply.cosign through verify.judge): signatures made with
keys generated here, in the exact layer format cosign pushes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from alignment.supply import keys
from alignment.supply.cosign import SIGNATURE, SignatureLayer
from alignment.supply.verify import Artifacts, KeyedSigner, Trust, judge
from tests.alignment.supply import signing

DIGEST = "sha256:" + hashlib.sha256(b"an image manifest").hexdigest()
OTHER = "sha256:" + hashlib.sha256(b"another image manifest").hexdigest()


@pytest.fixture(params=["ecdsa", "ed25519"])
def release_key(request):
    return signing.ecdsa_key() if request.param == "ecdsa" else signing.ed25519_key()


def lane(*private_keys):
    return Trust(
        tuple(KeyedSigner(f"signer-{n}", signing.public_pem(k)) for n, k in enumerate(private_keys))
    )


def only(layer, trust, digest=DIGEST):
    evidence = judge(Artifacts(digest, cosign_signatures=(layer,)), trust)
    assert evidence.provenance == ()
    (signature,) = evidence.signatures
    assert signature.scheme == "cosign"
    return signature


def tampered(layer: SignatureLayer) -> SignatureLayer:
    raw = bytearray(base64.b64decode(layer.annotations[SIGNATURE]))
    raw[len(raw) // 2] ^= 0x01
    annotations = {**layer.annotations, SIGNATURE: base64.b64encode(bytes(raw)).decode()}
    return SignatureLayer(layer.payload, layer.media_type, annotations)


def test_a_signature_by_a_lane_key_is_trusted(release_key):
    signature = only(signing.cosign_signature(release_key, DIGEST), lane(release_key))
    assert (signature.state, signature.signer, signature.reason) == ("trusted", "signer-0", "")


def test_the_lane_names_which_of_its_signers_signed(release_key):
    trust = lane(signing.ecdsa_key(), release_key)
    assert only(signing.cosign_signature(release_key, DIGEST), trust).signer == "signer-1"


def test_a_signature_naming_its_lane_key_in_the_rekor_bundle_is_trusted(release_key):
    layer = signing.cosign_signature(release_key, DIGEST, rekor=True)
    assert only(layer, lane(release_key)).state == "trusted"


def test_a_tampered_signature_naming_its_key_is_invalid(release_key):
    layer = tampered(signing.cosign_signature(release_key, DIGEST, rekor=True))
    signature = only(layer, lane(release_key))
    assert signature.state == "invalid"
    assert signature.reason == "does not verify with the key it names"
    assert signature.signer == keys.fingerprint(
        keys.load_public_key(signing.public_pem(release_key))
    )


def test_a_tampered_signature_naming_no_key_is_only_untrusted(release_key):
    # Without a named key a broken signature and a stranger's look the same: neither counts.
    signature = only(tampered(signing.cosign_signature(release_key, DIGEST)), lane(release_key))
    assert signature.state == "untrusted"
    assert "verifies with none of the lane's keys" in signature.reason


def test_a_signature_by_an_unknown_key_is_untrusted(release_key):
    stranger = signing.ed25519_key()
    signature = only(signing.cosign_signature(stranger, DIGEST), lane(release_key))
    assert signature.state == "untrusted"
    named = only(signing.cosign_signature(stranger, DIGEST, rekor=True), lane(release_key))
    assert (named.state, named.reason) == ("untrusted", "not a signer of this lane")
    assert named.signer.startswith("sha256:")


def test_a_lane_without_signers_trusts_no_signature(release_key):
    assert only(signing.cosign_signature(release_key, DIGEST), Trust(())).state == "untrusted"


def test_a_signature_of_another_image_copied_here_is_invalid(release_key):
    layer = signing.cosign_signature(release_key, OTHER)
    signature = only(layer, lane(release_key))
    assert signature.state == "invalid"
    assert signature.reason == f"the signature payload names another image: {OTHER}"


def test_a_payload_that_is_not_cosigns_is_invalid(release_key):
    for payload, reason in [
        (b"{}", "no critical section"),
        (b'{"critical": {"type": "x"}}', "type is not"),
        (b"\xff\xfe", "not JSON"),
    ]:
        layer = signing.cosign_signature(release_key, DIGEST, payload=payload)
        assert only(layer, lane(release_key)).state == "invalid"
        assert reason in only(layer, lane(release_key)).reason


def test_a_layer_without_its_signature_annotation_is_invalid(release_key):
    layer = signing.cosign_signature(release_key, DIGEST)
    bare = SignatureLayer(layer.payload, layer.media_type, {})
    assert only(bare, lane(release_key)).reason == (
        "the dev.cosignproject.cosign/signature annotation must be a base64 string"
    )


def test_a_rekor_bundle_recording_another_payload_is_invalid(release_key):
    layer = signing.cosign_signature(release_key, DIGEST, rekor=True)
    moved = signing.cosign_signature(release_key, OTHER, rekor=True)
    annotations = {
        **layer.annotations,
        "dev.sigstore.cosign/bundle": moved.annotations["dev.sigstore.cosign/bundle"],
    }
    signature = only(
        SignatureLayer(layer.payload, layer.media_type, annotations), lane(release_key)
    )
    assert (signature.state, signature.reason) == (
        "invalid",
        "the Rekor bundle annotation records another payload",
    )


def test_a_key_of_a_kind_cosign_may_use_but_we_do_not_is_untrusted_not_invalid():
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = ec.generate_private_key(ec.SECP384R1())
    layer = signing.cosign_signature(signing.ecdsa_key(), DIGEST)
    pem = signing.public_pem(p384)
    annotations = {
        **layer.annotations,
        "dev.sigstore.cosign/bundle": signing.rekor_annotation(p384, layer.payload, b"sig"),
    }
    signature = only(SignatureLayer(layer.payload, layer.media_type, annotations), Trust(()))
    assert signature.state == "untrusted"
    assert "only P-256 is supported" in signature.reason
    with pytest.raises(keys.UnsupportedKey):
        keys.load_public_key(pem)
