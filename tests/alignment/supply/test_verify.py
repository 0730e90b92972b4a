"""The verifier's edges: keys as lanes write them, the trust fingerprint that keys the
evidence cache, and evidence as the cache stores it."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from alignment.supply import keys
from alignment.supply.verdict import Evidence, Provenance, Signature
from alignment.supply.verify import Artifacts, KeyedSigner, KeylessSigner, Trust, judge
from tests.alignment.supply import signing

DIGEST = "sha256:" + hashlib.sha256(b"an image manifest").hexdigest()


def test_a_key_is_named_by_the_sha256_of_its_der_spki():
    key = signing.ed25519_key()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    loaded = keys.load_public_key(signing.public_pem(key))
    assert keys.fingerprint(loaded) == f"sha256:{hashlib.sha256(der).hexdigest()}"


@pytest.mark.parametrize(
    ("pem", "complaint"),
    [
        ("", "not a PEM public key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "unreadable PEM"),
        (signing.public_pem(ec.generate_private_key(ec.SECP384R1())), "only P-256"),
        (
            signing.public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "only ECDSA P-256 and Ed25519",
        ),
    ],
)
def test_a_key_we_cannot_use_is_refused_saying_why(pem, complaint):
    with pytest.raises(keys.BadKey, match=complaint):
        keys.load_public_key(pem)


def test_a_lane_key_that_does_not_load_never_vouches():
    key = signing.ecdsa_key()
    trust = Trust(
        (KeyedSigner("broken", "not a key"), KeyedSigner("release", signing.public_pem(key)))
    )
    assert [k.name for k in trust.keyring()] == ["release"]
    (signature,) = judge(
        Artifacts(DIGEST, (signing.cosign_signature(key, DIGEST),)), trust
    ).signatures
    assert signature.signer == "release"


def test_the_trust_fingerprint_changes_with_what_can_change_a_verdict():
    key = signing.public_pem(signing.ecdsa_key())
    ci = KeylessSigner("ci", issuer="https://token.actions.githubusercontent.com", subject="a")
    base = Trust((KeyedSigner("release", key), ci), trusted_root_json="{}")
    assert base.fingerprint() == Trust((KeyedSigner("release", key + "\n"), ci), "{}").fingerprint()
    changed = [
        Trust((KeyedSigner("release", key),), "{}"),
        Trust((KeyedSigner("other-name", key), ci), "{}"),
        Trust((KeyedSigner("release", signing.public_pem(signing.ecdsa_key())), ci), "{}"),
        Trust((KeyedSigner("release", key), KeylessSigner("ci", ci.issuer, subject="b")), "{}"),
        Trust((KeyedSigner("release", key), ci), ""),
    ]
    prints = {base.fingerprint(), *(t.fingerprint() for t in changed)}
    assert len(prints) == 1 + len(changed)
    assert all(len(p) == 64 for p in prints)


def test_evidence_survives_the_cache_row():
    evidence = Evidence(
        DIGEST,
        (Signature("cosign", "release", "trusted"), Signature("bundle", "x", "invalid", "why")),
        (
            Provenance(
                "https://slsa.dev/provenance/v1", "b", 3, "https://g/a/b", "c" * 40, "trusted"
            ),
        ),
    )
    assert Evidence.from_dict(evidence.as_dict()) == evidence
    row = evidence.as_dict()
    row["signatures"][0]["added_later"] = 1
    del row["provenance"][0]["scheme"]
    assert Evidence.from_dict(row) == evidence
    assert evidence.signed and not Evidence(DIGEST).signed
