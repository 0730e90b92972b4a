"""The supply rules (alignment.rules.supply) on what the registry said: one finding per
rule and workload, naming each image at fault; silence where the registry was not asked."""

from __future__ import annotations

from typing import Any

import pytest

from alignment import rules
from alignment.rules.images import ImageCheck
from alignment.supply.provenance import normalise_source
from alignment.supply.verdict import Evidence, Provenance, Signature
from tests.alignment.test_references import objects

SIGNED = "registry.example.com/shop/web@sha256:" + "a" * 64
TAGGED = "registry.example.com/shop/web:1.2"
BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/x.yml@v2"
REPO = "https://github.com/acme/shop"

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - {name: web, image: IMAGE}
"""


def lane(**supply: Any) -> rules.LaneSpec:
    return rules.LaneSpec("controlled", namespaces=("shop",), supply=supply)


SIGNERS = [{"name": "release", "key": "PEM"}]
REQUIRED = {"required": True, "builders": [{"id": BUILDER, "minLevel": 3}]}


def provenance(**changes: Any) -> Provenance:
    fields: dict[str, Any] = {
        "predicate_type": "https://slsa.dev/provenance/v1",
        "builder": BUILDER,
        "level": 3,
        "source": REPO,
        "revision": "c0ffee",
        "signature": "trusted",
        "signer": "release",
    }
    return Provenance(**(fields | changes))


def trusted(signer: str = "release") -> Signature:
    return Signature("cosign", signer, "trusted")


def findings(
    image: str,
    spec: rules.LaneSpec,
    check: ImageCheck | None,
    sources: tuple[str, ...] = (REPO,),
) -> list[tuple[str, str]]:
    images = {(spec.name, image): check} if check else {}
    circumstances = rules.Circumstances(images=images, sources=sources)
    found = rules.evaluate(
        objects(WEB.replace("IMAGE", image)), rules.everything, (spec,), circumstances=circumstances
    )
    return [(v.rule, v.message) for v in found if v.rule.startswith("supply.")]


def evidence(*signatures: Signature, attested: tuple[Provenance, ...] = ()) -> Evidence:
    return Evidence("sha256:" + "a" * 64, signatures, attested)


def test_a_signed_image_with_provenance_from_the_git_source_passes() -> None:
    check = ImageCheck(
        SIGNED, SIGNED.split("@")[1], evidence=evidence(trusted(), attested=(provenance(),))
    )

    assert findings(SIGNED, lane(signers=SIGNERS, provenance=REQUIRED), check) == []


def test_a_tag_in_a_lane_requiring_digests_suggests_what_it_resolves_to() -> None:
    digest = "sha256:" + "b" * 64
    found = findings(TAGGED, lane(requireDigest=True), ImageCheck(TAGGED, digest))

    assert found == [
        (
            "supply.digest",
            "Deployment.apps shop/web in lane controlled runs registry.example.com/shop/web:1.2: "
            f"a tag, not a digest; pin registry.example.com/shop/web@{digest}",
        )
    ]


def test_a_tag_is_found_offline_too_without_a_suggestion() -> None:
    assert [rule for rule, _ in findings(TAGGED, lane(requireDigest=True), None)] == [
        "supply.digest"
    ]


@pytest.mark.parametrize(
    ("signatures", "rule"),
    [
        ((), "supply.unsigned"),
        (
            (Signature("cosign", "sha256:beef", "untrusted", "not a lane signer"),),
            "supply.untrusted-signer",
        ),
        (
            (Signature("cosign", "release", "invalid", "does not verify"),),
            "supply.invalid-signature",
        ),
        (
            (
                Signature("cosign", "sha256:beef", "untrusted"),
                Signature("bundle", "release", "invalid", "altered"),
            ),
            "supply.invalid-signature",
        ),
    ],
)
def test_each_signature_fault_is_exactly_its_rule(
    signatures: tuple[Signature, ...], rule: str
) -> None:
    check = ImageCheck(SIGNED, SIGNED.split("@")[1], evidence=evidence(*signatures))

    assert [r for r, _ in findings(SIGNED, lane(signers=SIGNERS), check)] == [rule]


def test_one_trusted_signature_outweighs_others() -> None:
    check = ImageCheck(
        SIGNED, "", evidence=evidence(Signature("cosign", "x", "invalid"), trusted())
    )

    assert findings(SIGNED, lane(signers=SIGNERS), check) == []


def test_an_unreadable_registry_is_unverifiable_never_unsigned() -> None:
    check = ImageCheck(SIGNED, unverifiable="registry.example.com: connection refused")

    found = findings(SIGNED, lane(signers=SIGNERS, provenance=REQUIRED), check)

    assert [rule for rule, _ in found] == ["supply.unverifiable"]
    assert "connection refused" in found[0][1]


@pytest.mark.parametrize(
    ("attested", "rule"),
    [
        ((), "supply.no-provenance"),
        ((provenance(signature="untrusted", signer="sha256:beef"),), "supply.no-provenance"),
        ((provenance(builder="https://evil.example/builder"),), "supply.builder"),
        ((provenance(level=1),), "supply.builder"),
        ((provenance(source="https://github.com/someone/else"),), "supply.source-mismatch"),
    ],
)
def test_each_provenance_fault_is_exactly_its_rule(
    attested: tuple[Provenance, ...], rule: str
) -> None:
    check = ImageCheck(SIGNED, "", evidence=evidence(trusted(), attested=attested))

    assert [r for r, _ in findings(SIGNED, lane(signers=SIGNERS, provenance=REQUIRED), check)] == [
        rule
    ]


def test_the_lanes_own_source_repositories_replace_the_git_source() -> None:
    terms = {**REQUIRED, "sourceRepositories": ["git@github.com:acme/images.git"]}
    built = provenance(source="https://github.com/acme/images")
    check = ImageCheck(SIGNED, "", evidence=evidence(trusted(), attested=(built,)))

    assert findings(SIGNED, lane(signers=SIGNERS, provenance=terms), check) == []


def test_no_check_means_silence_not_a_verdict() -> None:
    assert findings(SIGNED, lane(signers=SIGNERS, provenance=REQUIRED), None) == []


def test_a_lane_without_supply_terms_is_left_alone() -> None:
    check = ImageCheck(TAGGED, "", evidence=evidence())

    assert findings(TAGGED, rules.LaneSpec("fast", namespaces=("shop",)), check) == []


@pytest.mark.parametrize(
    ("written", "compared"),
    [
        ("git+https://github.com/Acme/shop.git@refs/heads/main", "https://github.com/Acme/shop"),
        ("https://GitHub.com/acme/shop/", "https://github.com/acme/shop"),
        ("git@github.com:acme/shop.git", "https://github.com/acme/shop"),
        ("https://user:token@git.example/acme/shop.git", "https://git.example/acme/shop"),
    ],
)
def test_repositories_compare_however_they_are_written(written: str, compared: str) -> None:
    assert normalise_source(written) == compared


def test_the_evidence_names_the_digest_a_tag_resolved_to() -> None:
    digest = "sha256:" + "c" * 64
    spec = lane(signers=SIGNERS)
    circumstances = rules.Circumstances(
        images={(spec.name, TAGGED): ImageCheck(TAGGED, digest, evidence=evidence())}
    )

    found = rules.evaluate(
        objects(WEB.replace("IMAGE", TAGGED)),
        rules.everything,
        (spec,),
        circumstances=circumstances,
    )

    assert [(v.rule, e.path, e.note) for v in found for e in v.evidence] == [
        (
            "supply.unsigned",
            "/spec/template/spec/containers/0/image",
            f"no signature in its registry (digest {digest})",
        )
    ]
