"""DSSE envelopes, in-toto statements and SLSA provenance (alignment.supply.dsse and
.provenance), on predicates real builders wrote and on attestations signed here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from alignment.supply import dsse, provenance
from alignment.supply.verify import Artifacts, KeyedSigner, Trust, judge
from tests.alignment.supply import signing

DATA = Path(__file__).resolve().parents[2] / "data" / "sigstore"
DIGEST = "sha256:" + hashlib.sha256(b"an image manifest").hexdigest()
OTHER = "sha256:" + hashlib.sha256(b"another image manifest").hexdigest()


def test_pae_is_the_dsse_encoding():
    # The example of github.com/secure-systems-lab/dsse/blob/master/protocol.md
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_it_reads_an_envelope_and_checks_its_signature_over_pae():
    key, stranger = signing.ecdsa_key(), signing.ed25519_key()
    raw = json.dumps(signing.envelope(key, signing.slsa_v1(DIGEST))).encode()
    envelope = dsse.parse_envelope(raw)
    public = key.public_key()
    assert dsse.signed_by(envelope, public)
    assert not dsse.signed_by(envelope, stranger.public_key())
    altered = dsse.Envelope(envelope.payload_type, envelope.payload + b" ", envelope.signatures)
    assert not dsse.signed_by(altered, public)
    retyped = dsse.Envelope("application/json", envelope.payload, envelope.signatures)
    assert not dsse.signed_by(retyped, public)


@pytest.mark.parametrize("version", ["v0.1", "v1"])
def test_it_reads_in_toto_statements_of_both_versions(version):
    content = signing.slsa_v1(DIGEST) | {"_type": f"https://in-toto.io/Statement/{version}"}
    statement = dsse.parse_statement(json.dumps(content).encode())
    assert statement.predicate_type == "https://slsa.dev/provenance/v1"
    assert statement.names(DIGEST)
    assert not statement.names(OTHER)
    assert not statement.names("sha256:")


def test_it_reads_a_real_slsa_v1_predicate():
    predicate = json.loads((DATA / "slsa_predicate_v1_0.json").read_text())
    claims = provenance.read(provenance.SLSA_V1, predicate)
    assert claims == provenance.Claims(
        "https://slsa.dev/provenance/v1",
        "https://github.com/octo-org/octo-repo/.github/workflows/docker.yaml@refs/heads/development",
        None,
        "https://github.com/octo-org/octo-repo",
        "1ac93ce21ee526b36fd154b9058d97dfaa424c50",
    )


def test_it_reads_a_real_slsa_v02_predicate_of_the_slsa3_generator():
    predicate = json.loads((DATA / "slsa_predicate_v0_2.json").read_text())
    claims = provenance.read(provenance.SLSA_V02, predicate)
    assert claims.builder == (
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
        "generator_generic_slsa3.yml@refs/tags/v2.0.0"
    )
    assert claims.level == 3  # from the documented builder mapping
    assert claims.source == "https://github.com/sigstore/sigstore-python"
    assert claims.revision == "fc29ec190575ae345cea23f0953b64ca6f2ab8ba"


@pytest.mark.parametrize(
    ("stated", "source"),
    [
        ("git+https://github.com/acme/shop@refs/heads/main", "https://github.com/acme/shop"),
        ("git+https://github.com/acme/shop.git", "https://github.com/acme/shop"),
        ("https://github.com/acme/shop/", "https://github.com/acme/shop"),
        ("https://GitHub.com/acme/shop.git/@v1", "https://github.com/acme/shop"),
        ("git+ssh://git@gitlab.example/acme/shop.git@abc", "ssh://gitlab.example/acme/shop"),
        ("https://github.com/acme/shop#subdir", "https://github.com/acme/shop"),
    ],
)
def test_source_repositories_are_normalised_the_way_lanes_write_them(stated, source):
    assert provenance.normalise_source(stated) == source


@pytest.mark.parametrize(
    ("builder", "level"),
    [
        (signing.BUILDER, 3),
        ("https://github.com/actions/runner/github-hosted", 2),
        ("https://cloudbuild.googleapis.com/GoogleHostedWorker", 3),
        ("https://github.com/acme/shop/.github/workflows/build.yml@refs/heads/main", None),
        (signing.BUILDER.replace("@refs/tags/v2.0.0", "@refs/heads/main"), None),
    ],
)
def test_a_builder_level_comes_from_the_documented_mapping(builder, level):
    assert provenance.builder_level(builder) == level


def test_a_level_the_statement_states_wins():
    predicate = signing.slsa_v1(DIGEST, builder="https://ci.example/builder")["predicate"]
    assert provenance.read(provenance.SLSA_V1, predicate).level is None
    predicate["runDetails"]["builder"]["slsaBuildLevel"] = 2
    assert provenance.read(provenance.SLSA_V1, predicate).level == 2
    predicate["runDetails"]["builder"]["slsaBuildLevel"] = "SLSA_BUILD_LEVEL_3"
    assert provenance.read(provenance.SLSA_V1, predicate).level == 3
    predicate["runDetails"]["builder"]["slsaBuildLevel"] = 9
    assert provenance.read(provenance.SLSA_V1, predicate).level is None


def test_a_predicate_naming_no_builder_is_refused():
    with pytest.raises(ValueError, match="names no builder id"):
        provenance.read(provenance.SLSA_V1, {"runDetails": {}})
    with pytest.raises(ValueError, match="not an SLSA provenance predicate"):
        provenance.read("https://spdx.dev/Document", {})


@pytest.mark.parametrize("make", [signing.slsa_v1, signing.slsa_v02])
def test_a_signed_attestation_gives_the_provenance_it_claims(make):
    key = signing.ecdsa_key()
    layer = signing.cosign_attestation(key, make(DIGEST, source="https://github.com/acme/shop"))
    evidence = judge(
        Artifacts(DIGEST, cosign_attestations=(layer,)),
        Trust((KeyedSigner("release", signing.public_pem(key)),)),
    )
    (found,) = evidence.provenance
    assert found.signature == "trusted" and found.signer == "release" and found.reason == ""
    assert (found.builder, found.level) == (signing.BUILDER, 3)
    assert (found.source, found.revision) == ("https://github.com/acme/shop", signing.COMMIT)
    assert found.scheme == "cosign" and evidence.signatures == ()


def test_an_attestation_by_an_unknown_key_or_altered_does_not_count():
    key, stranger = signing.ed25519_key(), signing.ed25519_key()
    trust = Trust((KeyedSigner("release", signing.public_pem(key)),))
    by_stranger = signing.cosign_attestation(stranger, signing.slsa_v1(DIGEST))
    envelope = json.loads(signing.cosign_attestation(key, signing.slsa_v1(DIGEST)).payload)
    other = signing.slsa_v1(DIGEST, builder="https://evil.example/builder")
    envelope["payload"] = signing.b64(json.dumps(other).encode())
    altered = signing.SignatureLayer(json.dumps(envelope).encode(), "", {})
    evidence = judge(Artifacts(DIGEST, cosign_attestations=(by_stranger, altered)), trust)
    assert [p.signature for p in evidence.provenance] == ["untrusted", "untrusted"]
    assert evidence.provenance[1].builder == "https://evil.example/builder"


def test_statements_about_other_images_or_other_things_are_not_this_images_provenance():
    key = signing.ecdsa_key()
    trust = Trust((KeyedSigner("release", signing.public_pem(key)),))
    layers = (
        signing.cosign_attestation(key, signing.slsa_v1(OTHER)),
        signing.cosign_attestation(key, signing.statement(DIGEST, "https://spdx.dev/Document", {})),
    )
    assert judge(Artifacts(DIGEST, cosign_attestations=layers), trust).provenance == ()
