"""What a registry serves is hostile until verified: judge() turns anything malformed into
an "invalid" entry with its reason and never raises."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignment.supply.cosign import SignatureLayer
from alignment.supply.verify import Artifacts, KeyedSigner, KeylessSigner, Trust, judge
from tests.alignment.supply import signing
from tests.alignment.supply.test_public_bundle import BUNDLE, ROOT

DIGEST = "sha256:" + hashlib.sha256(b"an image manifest").hexdigest()
KEY = signing.ecdsa_key()
TRUST = Trust(
    (
        KeyedSigner("release", signing.public_pem(KEY)),
        KeylessSigner(
            "ci", issuer="https://token.actions.githubusercontent.com", subject_pattern="."
        ),
    ),
    trusted_root_json=ROOT,
)
GOOD_BUNDLE = signing.keyed_bundle(KEY, DIGEST, content=signing.slsa_v1(DIGEST))
GOOD_LAYER = signing.cosign_signature(KEY, DIGEST, rekor=True)
GOOD_ATTESTATION = signing.cosign_attestation(KEY, signing.slsa_v1(DIGEST))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def wrong_types(document: object):
    """Every variant of `document` with one value replaced by a value of another type."""
    if isinstance(document, dict):
        for key, value in document.items():
            for replacement in (None, 7, "x", [], {}, [value], True):
                yield {**document, key: replacement}
            for variant in wrong_types(value):
                yield {**document, key: variant}
    elif isinstance(document, list):
        for index, value in enumerate(document):
            for variant in wrong_types(value):
                yield [*document[:index], variant, *document[index + 1 :]]


def never_raises(artifacts: Artifacts):
    evidence = judge(artifacts, TRUST)
    assert all(s.state in ("trusted", "untrusted", "invalid") for s in evidence.signatures)
    assert all(p.signature in ("trusted", "untrusted", "invalid") for p in evidence.provenance)
    return evidence


@pytest.mark.parametrize(
    "source", [GOOD_BUNDLE, BUNDLE.read_bytes(), GOOD_LAYER.payload, GOOD_ATTESTATION.payload]
)
def test_truncated_json_is_invalid(source):
    for end in range(0, len(source), max(1, len(source) // 40)):
        cut = source[:end]
        layer = SignatureLayer(cut, "", GOOD_LAYER.annotations)
        evidence = never_raises(
            Artifacts(
                DIGEST, cosign_signatures=(layer,), cosign_attestations=(layer,), bundles=(cut,)
            )
        )
        assert {s.state for s in evidence.signatures} <= {"invalid", "untrusted"}
        assert not any(s.state == "trusted" for s in evidence.signatures)


@pytest.mark.parametrize("source", [GOOD_BUNDLE, BUNDLE.read_bytes()])
def test_bundles_with_a_value_of_the_wrong_type_never_raise(source):
    for variant in wrong_types(json.loads(source)):
        never_raises(Artifacts(DIGEST, bundles=(json.dumps(variant).encode(),)))


def test_annotations_and_payloads_of_the_wrong_type_never_raise():
    rekor = json.loads(GOOD_LAYER.annotations["dev.sigstore.cosign/bundle"])
    for variant in wrong_types(rekor):
        annotations = {**GOOD_LAYER.annotations, "dev.sigstore.cosign/bundle": json.dumps(variant)}
        never_raises(Artifacts(DIGEST, (SignatureLayer(GOOD_LAYER.payload, "", annotations),)))
    for variant in wrong_types(json.loads(GOOD_LAYER.payload)):
        layer = SignatureLayer(json.dumps(variant).encode(), "", GOOD_LAYER.annotations)
        assert never_raises(Artifacts(DIGEST, (layer,))).signatures[0].state == "invalid"
    for variant in wrong_types(json.loads(GOOD_ATTESTATION.payload)):
        layer = SignatureLayer(json.dumps(variant).encode(), "", {})
        never_raises(Artifacts(DIGEST, cosign_attestations=(layer,)))


def test_huge_and_deep_inputs_are_refused_without_raising():
    huge = (
        b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "x": "'
        + b"a" * (5 << 20)
        + b'"}'
    )
    deep = b"[" * 100_000 + b"]" * 100_000
    annotations = {
        "dev.cosignproject.cosign/signature": "A" * (2 << 20),
        "dev.sigstore.cosign/certificate": "-----BEGIN CERTIFICATE-----\n" + "A" * 10_000,
    }
    evidence = never_raises(
        Artifacts(
            DIGEST,
            cosign_signatures=(SignatureLayer(deep, "", annotations), SignatureLayer(huge, "", {})),
            cosign_attestations=(SignatureLayer(deep, "", {}),),
            bundles=(huge, deep),
        )
    )
    assert [s.state for s in evidence.signatures] == ["invalid"] * 4
    assert [p.signature for p in evidence.provenance] == ["invalid"]


def test_a_malformed_digest_or_empty_artifacts_never_raise():
    assert never_raises(Artifacts("latest", (GOOD_LAYER,), (GOOD_ATTESTATION,), (GOOD_BUNDLE,)))
    assert judge(Artifacts(DIGEST), TRUST).signatures == ()


@settings(max_examples=150, deadline=None)
@given(document=json_values)
def test_arbitrary_json_never_raises(document):
    raw = json.dumps(document).encode()
    bundle = json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": document,
            "dsseEnvelope": document,
        }
    ).encode()
    layer = SignatureLayer(raw, "", {"dev.cosignproject.cosign/signature": "AAAA"})
    never_raises(Artifacts(DIGEST, (layer,), (layer,), (raw, bundle)))
