"""The registry door reads what was pushed to a real registry (Debian's distribution 2.8),
and refuses bytes that are not what their digest says."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from alignment.registry import (
    BUNDLE_TYPE,
    OCI_INDEX,
    OCI_MANIFEST,
    Access,
    NotFound,
    Registry,
    RegistryError,
    digest_of,
)
from tests.alignment.registry.conftest import blob_file
from tests.plugins.registry import OciRegistry
from tests.support import oci

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def test_it_resolves_a_tag_to_the_digest_pushed(oci_registry, registry, repository):
    pushed = oci.push_image(
        oci_registry.host, oci_registry.ca_pem, repository, "1.0", content=b"v1"
    )

    assert registry.resolve(repository, "1.0") == pushed


def test_a_moved_tag_resolves_to_its_new_digest(oci_registry, registry, repository):
    host, ca = oci_registry.host, oci_registry.ca_pem
    first = oci.push_image(host, ca, repository, "latest", content=b"one")
    second = oci.push_image(host, ca, repository, "latest", content=b"two")

    assert first != second
    assert registry.resolve(repository, "latest") == second


def test_a_multi_arch_tag_resolves_to_its_index_not_a_platform(oci_registry, registry, repository):
    index, images = oci.push_index(
        oci_registry.host,
        oci_registry.ca_pem,
        repository,
        "2.0",
        platforms={"linux/amd64": b"amd64", "linux/arm64": b"arm64"},
    )

    assert registry.resolve(repository, "2.0") == index
    document, media_type, raw = registry.manifest(repository, index)
    assert media_type == OCI_INDEX
    assert [m["digest"] for m in document["manifests"]] == list(images.values())


def test_a_manifest_by_digest_comes_with_its_exact_bytes(oci_registry, registry, repository):
    digest = oci.push_image(oci_registry.host, oci_registry.ca_pem, repository, "1", content=b"x")

    document, media_type, raw = registry.manifest(repository, digest)

    assert digest_of(raw) == digest
    assert media_type == OCI_MANIFEST
    assert document["layers"][0]["digest"] == digest_of(b"x")


def test_a_blob_comes_checked_against_its_digest(oci_registry, registry, repository):
    oci.push_image(oci_registry.host, oci_registry.ca_pem, repository, "1", content=b"layer bytes")

    assert registry.blob(repository, digest_of(b"layer bytes")) == b"layer bytes"


def _tamper(registry: OciRegistry, digest: str) -> None:
    # The registry serves what its storage holds: alter one byte, keep the length.
    path = blob_file(registry, digest)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_blob_altered_in_storage_is_refused(oci_registry, registry, repository):
    content = f"{repository} layer".encode()
    oci.push_image(oci_registry.host, oci_registry.ca_pem, repository, "1", content=content)
    _tamper(oci_registry, digest_of(content))

    with pytest.raises(RegistryError, match="digest is sha256:") as refused:
        registry.blob(repository, digest_of(content))
    assert oci_registry.host in str(refused.value)
    assert repository in str(refused.value)


def test_a_manifest_altered_in_storage_is_refused(oci_registry, registry, repository):
    digest = oci.push_image(
        oci_registry.host, oci_registry.ca_pem, repository, "1", content=repository.encode()
    )
    # Still valid JSON, or the registry would not serve it: another layer digest.
    path = blob_file(oci_registry, digest)
    layer = digest_of(repository.encode())
    path.write_bytes(path.read_bytes().replace(layer.encode(), digest_of(b"other").encode()))

    with pytest.raises(RegistryError, match="digest is sha256:"):
        registry.manifest(repository, digest)


def test_a_blob_over_the_limit_is_refused(oci_registry, registry, repository):
    content = b"x" * 5000
    oci.push_image(oci_registry.host, oci_registry.ca_pem, repository, "1", content=content)

    with pytest.raises(RegistryError, match="more than the 4096 allowed"):
        registry.blob(repository, digest_of(content), limit=4096)


def test_what_is_not_there_is_not_found_and_says_where(oci_registry, registry, repository):
    oci.push_image(oci_registry.host, oci_registry.ca_pem, repository, "1", content=b"here")

    with pytest.raises(NotFound) as tag:
        registry.resolve(repository, "no-such-tag")
    with pytest.raises(NotFound):
        registry.manifest("shop/no-such-repository", "1")
    with pytest.raises(NotFound):
        registry.blob(repository, digest_of(b"never pushed"))
    message = str(tag.value)
    assert f"{oci_registry.host}/{repository} no-such-tag" in message
    assert "404" in message
    assert tag.value.status == 404


def test_names_the_api_cannot_hold_are_refused_before_any_request(registry):
    with pytest.raises(RegistryError, match="not a repository name"):
        registry.resolve("../../v2/_catalog", "1")
    with pytest.raises(RegistryError, match="neither a tag nor"):
        registry.manifest("shop/web", "a/../../b")


def test_referrers_of_an_image_without_any_are_none(oci_registry, registry, repository):
    digest = oci.push_image(oci_registry.host, oci_registry.ca_pem, repository, "1", content=b"0")

    assert registry.referrers(repository, digest) == []


def test_bundles_pushed_as_referrers_are_listed(oci_registry, registry, repository):
    # Distribution 2.8 has no referrers API (404): the door falls back to the referrers
    # tag schema, which the pusher maintains as the OCI 1.1 spec asks of clients.
    host, ca = oci_registry.host, oci_registry.ca_pem
    digest = oci.push_image(host, ca, repository, "1", content=b"signed")
    key = oci.ecdsa_key()
    signature = oci.sign(host, ca, repository, digest, key, scheme="bundle")
    statement = oci.slsa_v1(
        digest, "https://builder.example/v1", "https://github.com/acme/shop", "a" * 40
    )
    attestation = oci.attest(host, ca, repository, digest, key, statement, scheme="bundle")

    found = registry.referrers(repository, digest)

    assert [d["digest"] for d in found] == [signature, attestation]
    assert {d["artifactType"] for d in found} == {BUNDLE}
    assert registry.referrers(repository, digest, artifact_type=BUNDLE) == found
    assert registry.referrers(repository, digest, artifact_type="application/spdx+json") == []
    document, _, _ = registry.manifest(repository, signature)
    assert document["subject"]["digest"] == digest
    assert document["artifactType"] == BUNDLE
    assert BUNDLE_TYPE.match(document["layers"][0]["mediaType"])


def test_artifacts_hands_over_cosign_signatures_attestations_and_bundles(
    oci_registry, registry, repository
):
    host, ca = oci_registry.host, oci_registry.ca_pem
    digest = oci.push_image(host, ca, repository, "1", content=b"everything")
    release, ci = oci.ecdsa_key(), oci.ed25519_key()
    oci.sign(host, ca, repository, digest, release)
    oci.sign(host, ca, repository, digest, ci, rekor_hint=False)
    statement = oci.slsa_v02(
        digest, "https://builder.example/v1", "https://github.com/acme/shop", "b" * 40
    )
    oci.attest(host, ca, repository, digest, release, statement)
    oci.sign(host, ca, repository, digest, release, scheme="bundle")

    found = registry.artifacts(repository, digest)

    assert found.digest == digest
    first, second = found.cosign_signatures
    assert first.payload == second.payload == oci.cosign_payload(f"{host}/{repository}", digest)
    assert first.media_type == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert set(first.annotations) == {
        "dev.cosignproject.cosign/signature",
        "dev.sigstore.cosign/bundle",
    }
    assert set(second.annotations) == {"dev.cosignproject.cosign/signature"}
    (attestation,) = found.cosign_attestations
    assert attestation.media_type == "application/vnd.dsse.envelope.v1+json"
    assert attestation.annotations["predicateType"] == "https://slsa.dev/provenance/v0.2"
    envelope = json.loads(attestation.payload)
    assert json.loads(base64.b64decode(envelope["payload"])) == {
        **statement,
        "subject": [{"name": f"{host}/{repository}", "digest": {"sha256": digest[7:]}}],
    }
    (bundle,) = found.bundles
    assert json.loads(bundle)["verificationMaterial"]["publicKey"]["hint"] == oci.fingerprint(
        release
    )


def test_an_unsigned_image_has_no_artifacts(oci_registry, registry, repository):
    digest = oci.push_image(
        oci_registry.host, oci_registry.ca_pem, repository, "1", content=b"bare"
    )

    found = registry.artifacts(repository, digest)

    assert (found.cosign_signatures, found.cosign_attestations, found.bundles) == ((), (), ())


def test_signatures_of_a_multi_arch_image_attach_to_its_index(oci_registry, registry, repository):
    host, ca = oci_registry.host, oci_registry.ca_pem
    index, images = oci.push_index(host, ca, repository, "3", platforms={"linux/amd64": b"i"})
    oci.sign(host, ca, repository, index, oci.ecdsa_key())

    assert len(registry.artifacts(repository, index).cosign_signatures) == 1
    assert registry.artifacts(repository, images["linux/amd64"]).cosign_signatures == ()


def test_a_signature_deleted_is_gone(oci_registry, registry, repository):
    host, ca = oci_registry.host, oci_registry.ca_pem
    digest = oci.push_image(host, ca, repository, "1", content=b"unsigned later")
    signature = oci.sign(host, ca, repository, digest, oci.ecdsa_key())

    oci.delete_manifest(host, ca, repository, signature)

    assert registry.artifacts(repository, digest).cosign_signatures == ()


def test_access_never_shows_its_password(oci_registry: OciRegistry):
    access = oci_registry.access(username="puller", password="s3cret")

    assert "s3cret" not in repr(access)
    assert "puller" in repr(access)


def test_a_registry_with_the_referrers_api_is_asked_there(oci_registry, front, repository):
    host, ca = oci_registry.host, oci_registry.ca_pem
    signed = oci.push_image(host, ca, repository, "1", content=b"api")
    unsigned = oci.push_image(host, ca, repository, "2", content=b"none")
    bundle = oci.sign(host, ca, repository, signed, oci.ecdsa_key(), scheme="bundle")
    front.referrers_api = True
    door = Registry(Access(host=front.host, insecure=True))

    assert [d["digest"] for d in door.referrers(repository, signed, artifact_type=BUNDLE)] == [
        bundle
    ]
    assert door.referrers(repository, unsigned) == []
    # Its answers count, an empty one too: no second look under the tag schema's tag.
    assert front.paths == [
        f"/v2/{repository}/referrers/{signed}?artifactType={quote(BUNDLE, safe='')}",
        f"/v2/{repository}/referrers/{unsigned}",
    ]
