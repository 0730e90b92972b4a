"""Supply chain: a lane's images are pinned by digest, signed by the lane's signers and
built, as their signed SLSA provenance says, by an allowed builder from the lane's source
repository (the Lane document's `requireDigest`, `signers` and `provenance`, see
drift.engine.supply_terms).

The registry's answers come with the evaluation (Circumstances.images, per lane and
image); an image the registry could not answer for is `supply.unverifiable`, never
"unsigned". One finding per rule and workload, naming each image at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from alignment.rules import pods
from alignment.rules.base import Evidence, LaneSpec, Objects, Reach, Violation, rule
from alignment.rules.images import Container, ImageCheck, containers
from alignment.supply.provenance import normalise_source
from alignment.supply.verdict import Provenance
from drift.engine.normalize import ObjectKey

# What a check says about one image: a short reason when the rule fails it, else None.
Judgement = Callable[[LaneSpec, Container, ImageCheck | None, Reach], str | None]


def requires_evidence(lane: LaneSpec) -> bool:
    """Whether the lane's images must be looked up in their registry."""
    provenance = lane.supply.get("provenance") or {}
    return bool(lane.supply.get("signers")) or bool(provenance.get("required"))


def _lane(reach: Reach, key: ObjectKey) -> LaneSpec | None:
    owners = reach.lanes_of(key.namespace)
    return owners[0] if len(owners) == 1 else None


# Each rule's judgement of one image, in the rules' order (filled where each is defined).
JUDGEMENTS: dict[str, Judgement] = {}


def judgement(rule_id: str) -> Callable[[Judgement], Judgement]:
    def register(judge: Judgement) -> Judgement:
        JUDGEMENTS[rule_id] = judge
        return judge

    return register


def _judge(rule_id: str, objects: Objects, reach: Reach) -> Iterator[Violation]:
    """The rule's violations, from the one pass every supply rule of an evaluation shares."""
    found = pods.once("supply", objects, lambda: _every_violation(objects, reach))
    return iter(found.get(rule_id, ()))


def _every_violation(objects: Objects, reach: Reach) -> dict[str, list[Violation]]:
    """Every supply rule's violations: each workload's containers judged by each rule."""
    found: dict[str, list[Violation]] = {}
    if not any(lane.supply for lane in (*reach.lanes, reach.default_lane) if lane):
        return found  # the common case: no lane requires anything of its images
    for key, obj in reach.judged(objects):
        lane = _lane(reach, key)
        if lane is None or not lane.supply:
            continue
        faults: dict[str, list[tuple[Container, str, str]]] = {}
        for container in containers(key, obj):
            check = reach.circumstances.images.get((lane.name, container.image))
            digest = check.digest if check and not container.pinned else ""
            for rule_id, judge in JUDGEMENTS.items():
                reason = judge(lane, container, check, reach)
                if reason is not None:
                    faults.setdefault(rule_id, []).append((container, reason, digest))
        for rule_id, listed in faults.items():
            found.setdefault(rule_id, []).append(_violation(rule_id, key, obj, lane, listed))
    return found


def _violation(
    rule_id: str,
    key: ObjectKey,
    obj: Mapping[str, Any],
    lane: LaneSpec,
    faults: list[tuple[Container, str, str]],
) -> Violation:
    said = "; ".join(f"{container.image}: {reason}" for container, reason, _ in faults[:3])
    more = f" (and {len(faults) - 3} more)" if len(faults) > 3 else ""
    return Violation(
        rule_id,
        key,
        str(obj.get("apiVersion", "")),
        f"{key} in lane {lane.name} runs {said}{more}",
        # The evidence names each image's digest too, when the reference is a tag.
        tuple(
            Evidence(key, container.path, f"{reason} (digest {digest})" if digest else reason)
            for container, reason, digest in faults
        ),
    )


def _looked_at(lane: LaneSpec, check: ImageCheck | None) -> ImageCheck | None:
    """The check, when the registry answered for an image the lane wants evidence of."""
    if check is None or check.unverifiable or check.evidence is None:
        return None
    return check if requires_evidence(lane) else None


@rule(
    "supply.digest",
    "medium",
    "Images are pinned by digest",
    """A tag can be moved to another image at any time, so what runs is not what was
    reviewed, signed or scanned. The lane requires `name@sha256:...`: deploy the digest
    the evidence suggests (what the tag resolves to now), after checking it is the image
    you meant.""",
    local=True,
)
def digest(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return _judge("supply.digest", objects, reach)


@judgement("supply.digest")
def _digest_judgement(
    lane: LaneSpec, c: Container, check: ImageCheck | None, _: Reach
) -> str | None:
    if not lane.supply.get("requireDigest") or c.pinned:
        return None
    resolved = check.digest if check else ""
    name = c.image.rsplit(":", 1)[0] if ":" in c.image.rpartition("/")[2] else c.image
    return f"a tag, not a digest; pin {name}@{resolved}" if resolved else "a tag, not a digest"


@rule(
    "supply.unverifiable",
    "medium",
    "Images' signatures and provenance could be read",
    """The image's registry could not be read (unreachable, refused, or the image is
    gone), so whether it is signed and built as the lane requires is unknown, not false.
    Check the registry credentials and CA (Registries in the configuration) and that the
    image still exists; the next scan checks again.""",
    local=True,
)
def unverifiable(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return _judge("supply.unverifiable", objects, reach)


@judgement("supply.unverifiable")
def _unverifiable_judgement(
    lane: LaneSpec, c: Container, check: ImageCheck | None, _: Reach
) -> str | None:
    if check is None or not check.unverifiable or not requires_evidence(lane):
        return None
    return f"could not be verified: {check.unverifiable}"


def _signature_state(lane: LaneSpec, check: ImageCheck | None) -> tuple[str, str] | None:
    """(state, reason) of the image's signatures under the lane: "trusted" when one of
    the lane's signers signed it; else its best other state."""
    looked = _looked_at(lane, check)
    if looked is None or looked.evidence is None or not lane.supply.get("signers"):
        return None
    found = looked.evidence.signatures
    for state in ("trusted", "invalid", "untrusted"):
        for signature in found:
            if signature.state == state:
                return state, f"{signature.signer or 'unknown signer'}: {signature.reason}"
    return "unsigned", ""


def _signature_rule(rule_id: str, state: str, say: Callable[[str], str]) -> Callable[..., Any]:
    @judgement(rule_id)
    def judged(lane: LaneSpec, _: Container, c: ImageCheck | None, __: Reach) -> str | None:
        found = _signature_state(lane, c)
        return say(found[1]) if found and found[0] == state else None

    def check(objects: Objects, reach: Reach) -> Iterator[Violation]:
        return _judge(rule_id, objects, reach)

    return check


rule(
    "supply.unsigned",
    "high",
    "Images are signed",
    """Nothing in the registry signs this image (no cosign signature, no Sigstore bundle
    referring to its digest), so nobody vouches that it came from the lane's pipeline.
    Sign it in the pipeline (`cosign sign --key ...` or keyless) with one of the lane's
    signers, or deploy an image that is.""",
    local=True,
)(_signature_rule("supply.unsigned", "unsigned", lambda _: "no signature in its registry"))

rule(
    "supply.untrusted-signer",
    "high",
    "Images are signed by the lane's signers",
    """The image carries a signature, but by a key or identity the lane does not list in
    `signers` (or one that names no key and verifies with none of them). Sign it with a
    signer of the lane, or add the signer to the lane if it is legitimately yours.""",
    local=True,
)(_signature_rule("supply.untrusted-signer", "untrusted", lambda r: f"signed by {r}"))

rule(
    "supply.invalid-signature",
    "critical",
    "Images' signatures verify",
    """A signature attached to this image does not verify with the key or certificate it
    names, is malformed, or was made for another image: the image or its signature was
    altered, or a signature was copied from another image. Treat it as tampering: find
    who pushed it, and redeploy from a digest your pipeline signed.""",
    local=True,
)(_signature_rule("supply.invalid-signature", "invalid", lambda r: f"signature invalid ({r})"))


def _vouched(lane: LaneSpec, check: ImageCheck | None) -> list[Provenance] | None:
    """The provenance the lane's signers vouch for (None: not judged)."""
    provenance = lane.supply.get("provenance") or {}
    looked = _looked_at(lane, check)
    if not provenance.get("required") or looked is None or looked.evidence is None:
        return None
    return [p for p in looked.evidence.provenance if p.signature == "trusted"]


def _allowed_builder(lane: LaneSpec, statement: Provenance) -> bool:
    builders = (lane.supply.get("provenance") or {}).get("builders") or []
    if not builders:
        return True
    return any(
        statement.builder == b["id"] and (statement.level or 0) >= int(b.get("minLevel", 0))
        for b in builders
    )


def _sources(lane: LaneSpec, reach: Reach) -> set[str]:
    """The repositories the lane's images must be built from: the lane's own, else the
    policy's Git source."""
    named = (lane.supply.get("provenance") or {}).get("sourceRepositories") or []
    return {normalise_source(url) for url in (named or reach.circumstances.sources)}


@rule(
    "supply.no-provenance",
    "high",
    "Images carry signed SLSA provenance",
    """The lane requires SLSA provenance (v1 or v0.2) for its images, and none attached to
    this image's digest is signed by one of the lane's signers: nobody vouches for how and
    from what it was built. Generate provenance in the build (slsa-github-generator,
    `cosign attest --type slsaprovenance`) and sign it with a signer of the lane.""",
    local=True,
)
def no_provenance(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return _judge("supply.no-provenance", objects, reach)


@judgement("supply.no-provenance")
def _no_provenance_judgement(
    lane: LaneSpec, _: Container, c: ImageCheck | None, __: Reach
) -> str | None:
    vouched = _vouched(lane, c)
    if vouched is None or vouched:
        return None
    others = list(c.evidence.provenance if c and c.evidence else ())
    if others:
        first = others[0]
        return f"its provenance is {first.signature}: {first.reason or first.signer}"
    return "no SLSA provenance attached"


@rule(
    "supply.builder",
    "high",
    "Images are built by the lane's builders",
    """The image's signed provenance names a builder the lane's `provenance.builders` does
    not allow, or one below its minimum SLSA build level: it was built somewhere the lane
    does not trust to build it. Rebuild it with an allowed builder.""",
    local=True,
)
def builder(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return _judge("supply.builder", objects, reach)


@judgement("supply.builder")
def _builder_judgement(lane: LaneSpec, _: Container, c: ImageCheck | None, __: Reach) -> str | None:
    vouched = _vouched(lane, c)
    if not vouched or any(_allowed_builder(lane, p) for p in vouched):
        return None
    level = f", SLSA build level {vouched[0].level}" if vouched[0].level is not None else ""
    return f"built by {vouched[0].builder}{level}, not an allowed builder"


@rule(
    "supply.source-mismatch",
    "critical",
    "Images are built from the lane's source repository",
    """The image's signed provenance says it was built from another repository than the
    lane's `provenance.sourceRepositories` (by default, the policy's Git source): what
    runs was not built from the code Git holds. Rebuild from the lane's repository.""",
    local=True,
)
def source_mismatch(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return _judge("supply.source-mismatch", objects, reach)


@judgement("supply.source-mismatch")
def _source_mismatch_judgement(
    lane: LaneSpec, _: Container, c: ImageCheck | None, r: Reach
) -> str | None:
    vouched = [p for p in _vouched(lane, c) or [] if _allowed_builder(lane, p)]
    sources = _sources(lane, r)
    if not vouched or not sources:
        return None
    if any(normalise_source(p.source) in sources for p in vouched):
        return None
    built = vouched[0].source or "an unnamed source"
    return f"built from {built}, not {', '.join(sorted(sources))}"
