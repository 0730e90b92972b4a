"""A real public Sigstore bundle (production Fulcio and Rekor) verified OFFLINE against
Sigstore's public-good trusted root, both kept in tests/data/sigstore (see its README)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from alignment.supply.bundles import verify_blob_bundle
from alignment.supply.verify import Artifacts, KeylessSigner, Trust, judge

DATA = Path(__file__).resolve().parents[2] / "data" / "sigstore"
ARTIFACT = DATA / "rfc8785-0.1.2-py3-none-any.whl"
BUNDLE = DATA / "rfc8785-0.1.2-py3-none-any.whl.sigstore"
ROOT = (DATA / "trusted_root.json").read_text()
ISSUER = "https://token.actions.githubusercontent.com"
SAN = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
SIGNER = KeylessSigner("rfc8785-release", issuer=ISSUER, subject=SAN)
WHO = f"{SAN} ({ISSUER})"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # Verification must not touch the network: any socket opened here fails the test.
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the verifier tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def flipped(data: bytes, at: int) -> bytes:
    altered = bytearray(data)
    altered[at] ^= 0x01
    return bytes(altered)


def test_the_public_bundle_verifies_offline_with_its_signers_identity():
    signature = verify_blob_bundle(BUNDLE.read_bytes(), ARTIFACT.read_bytes(), ROOT, SIGNER)
    assert (signature.scheme, signature.signer, signature.state) == (
        "bundle",
        "rfc8785-release",
        "trusted",
    )


def test_a_san_pattern_with_the_issuer_matches_too():
    pattern = KeylessSigner(
        "tob", issuer=ISSUER, subject_pattern=r"^https://github\.com/trailofbits/"
    )
    assert verify_blob_bundle(BUNDLE.read_bytes(), ARTIFACT.read_bytes(), ROOT, pattern).state == (
        "trusted"
    )


@pytest.mark.parametrize(
    "someone_else",
    [
        KeylessSigner("x", issuer=ISSUER, subject=SAN.replace("v0.1.2", "v0.1.3")),
        KeylessSigner("x", issuer="https://accounts.google.com", subject=SAN),
        KeylessSigner("x", issuer="https://accounts.google.com", subject_pattern=".*"),
        KeylessSigner("x", issuer=ISSUER, subject_pattern=r"^https://github\.com/acme/"),
    ],
)
def test_a_sound_bundle_by_another_identity_is_untrusted(someone_else):
    signature = verify_blob_bundle(BUNDLE.read_bytes(), ARTIFACT.read_bytes(), ROOT, someone_else)
    assert (signature.state, signature.signer, signature.reason) == (
        "untrusted",
        WHO,
        "not a signer of this lane",
    )


@pytest.mark.parametrize("at", [0, 4096, 9171])
def test_the_artifact_altered_by_one_byte_fails(at):
    altered = flipped(ARTIFACT.read_bytes(), at)
    signature = verify_blob_bundle(BUNDLE.read_bytes(), altered, ROOT, SIGNER)
    assert (signature.state, signature.reason) == ("invalid", "Bundle message digest mismatch")


def test_the_signature_altered_by_one_byte_fails():
    bundle = json.loads(BUNDLE.read_bytes())
    raw = base64.b64decode(bundle["messageSignature"]["signature"])
    bundle["messageSignature"]["signature"] = base64.b64encode(flipped(raw, 30)).decode()
    signature = verify_blob_bundle(json.dumps(bundle), ARTIFACT.read_bytes(), ROOT, SIGNER)
    assert (signature.state, signature.signer) == ("invalid", WHO)


def test_the_certificate_altered_by_one_byte_fails():
    bundle = json.loads(BUNDLE.read_bytes())
    chain = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]
    der = base64.b64decode(chain[0]["rawBytes"])
    at = der.index(b"rfc8785.py")  # inside the signed SAN: the CA's signature breaks
    chain[0]["rawBytes"] = base64.b64encode(flipped(der, at)).decode()
    signature = verify_blob_bundle(json.dumps(bundle), ARTIFACT.read_bytes(), ROOT, SIGNER)
    # The signature still verifies with the certificate's key, but no CA of the root
    # issued this certificate: a stranger's, never the lane's.
    assert signature.state == "untrusted"
    assert signature.signer == WHO.replace("rfc8785", "sfc8785")
    assert signature.reason.startswith("its certificate does not chain to the trusted root")


def test_a_root_that_did_not_issue_the_certificate_does_not_trust_it():
    older = json.loads(ROOT)
    older["certificateAuthorities"] = older["certificateAuthorities"][:1]  # the 2021-22 CA only
    root = json.dumps(older)
    signature = verify_blob_bundle(BUNDLE.read_bytes(), ARTIFACT.read_bytes(), root, SIGNER)
    assert signature.state == "untrusted"
    assert signature.reason.startswith("its certificate does not chain to the trusted root")


def test_as_an_image_referrer_the_same_bundle_signs_that_digest():
    # The bundle signs a SHA-256 digest; judged as a referrer of "the image" with that
    # digest, it goes through the same keyless path as an image signature.
    digest = "sha256:" + hashlib.sha256(ARTIFACT.read_bytes()).hexdigest()
    trust = Trust((SIGNER,), trusted_root_json=ROOT)
    (signature,) = judge(Artifacts(digest, bundles=(BUNDLE.read_bytes(),)), trust).signatures
    assert (signature.scheme, signature.signer, signature.state) == (
        "bundle",
        "rfc8785-release",
        "trusted",
    )
    other = "sha256:" + hashlib.sha256(b"another manifest").hexdigest()
    (elsewhere,) = judge(Artifacts(other, bundles=(BUNDLE.read_bytes(),)), trust).signatures
    assert (elsewhere.state, elsewhere.reason) == (
        "invalid",
        "the message signature is over another digest",
    )
