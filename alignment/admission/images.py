"""What the admission webhook knows of images: the verdicts the scans (and the webhook's
own verification queue) stored, judged as a scan judges them (alignment.supply_chain.
check), with no registry ever read: a change waits for nobody.

A tag's digest is the one the cluster's last scans resolved it to (alignment.ImageUse);
an image pinned by digest needs no scan to have seen it, only a verdict under its lane's
trust configuration. Anything else is unverifiable for now: allowed, and queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from alignment import registry, rules, supply_chain
from alignment.models import ImageVerification
from alignment.rules.images import DIGEST_MARK, ImageCheck
from alignment.rules.supply import requires_evidence
from alignment.supply import refs
from alignment.supply.verdict import Evidence
from alignment.supply.verify import Trust

# What a check says of an image only a registry could tell about yet.
NOT_VERIFIED = "not verified yet: a scan asks its registry"


@dataclass(frozen=True)
class Stored:
    """What the database held when read, and nothing more: the digests scans resolved
    tags to, and the verdicts a scan would still use (signatures can be added after a
    push, so an unsettled verdict stops counting after SUPPLY_RECHECK_SECONDS). Nothing
    is added once built, so any thread may ask (supply_chain.Reads)."""

    digests: Mapping[str, str]  # normalised tag reference -> digest
    verdicts: Mapping[tuple[str, str], Evidence]  # (digest, trust fingerprint)
    trusts: Mapping[str, Trust | registry.RegistryError]  # by lane name
    fingerprints: Mapping[Trust, str]

    def digest(self, image: refs.ImageRef) -> str:
        found = image.digest or self.digests.get(str(image), "")
        if not found:
            raise registry.RegistryError(NOT_VERIFIED)
        return found

    def evidence(self, image: refs.ImageRef, digest: str, trust: Trust) -> Evidence:
        found = self.verdicts.get((digest, self.fingerprints.get(trust, "")))
        if found is None:
            raise registry.RegistryError(NOT_VERIFIED)
        return found

    def trust(self, lane: rules.LaneSpec) -> Trust:
        found = self.trusts.get(lane.name) or registry.RegistryError(NOT_VERIFIED)
        if isinstance(found, registry.RegistryError):
            raise found
        return found


def stored(lanes: Iterable[rules.LaneSpec], tags: Mapping[str, str]) -> Stored:
    """What the database holds for the lanes' images: ``tags`` maps images as written to
    the digest a scan resolved them to; every usable verdict under the lanes' trust
    configurations is read (a pinned image needs no scan to have seen it)."""
    trusts: dict[str, Trust | registry.RegistryError] = {}
    fingerprints: dict[Trust, str] = {}
    for lane in lanes:
        if not requires_evidence(lane):
            continue
        try:
            trust = trusts[lane.name] = supply_chain.trust_of(lane)
        except registry.RegistryError as error:  # its images are unverifiable, saying why
            trusts[lane.name] = error
            continue
        fingerprints.setdefault(trust, trust.fingerprint())
    verdicts: dict[tuple[str, str], Evidence] = {}
    if fingerprints:
        rows = ImageVerification.objects.filter(trust__in=set(fingerprints.values()))
        for row in rows.iterator(chunk_size=2000):
            if (kept := supply_chain.usable(row)) is not None:
                verdicts[row.digest, row.trust] = kept
    digests = {}
    for image, digest in tags.items():
        try:
            digests[str(refs.parse(image))] = digest
        except ValueError:
            continue  # its check says it is no image reference
    return Stored(digests, verdicts, trusts, fingerprints)


class Images(Mapping[tuple[str, str], ImageCheck]):
    """(lane name, image as the pod spec writes it) -> what the lane's terms make of it.
    The images the cluster's scans saw are judged once, when built; any other image
    pinned by digest is judged when asked (nothing is kept of it: the requests choose
    those names, and must not grow the server's memory)."""

    def __init__(
        self, lanes: Iterable[rules.LaneSpec], seen: Iterable[tuple[str, str, str]]
    ) -> None:
        """``seen``: (lane name, image as written, digest) of the cluster's image uses."""
        self._lanes = {lane.name: lane for lane in lanes if lane.supply}
        used = [(lane, image, digest) for lane, image, digest in seen if lane in self._lanes]
        self._stored = stored(
            self._lanes.values(), {image: digest for _, image, digest in used if digest}
        )
        self._checks = {
            (lane, image): supply_chain.check(image, self._lanes[lane], self._stored)
            for lane, image, _ in used
            if supply_chain.wants(self._lanes[lane], DIGEST_MARK in image)
        }

    def __getitem__(self, key: tuple[str, str]) -> ImageCheck:
        found = self._checks.get(key)
        if found is not None:
            return found
        lane = self._lanes.get(key[0])
        image = key[1]
        if lane is None or DIGEST_MARK not in image or not requires_evidence(lane):
            raise KeyError(key)
        return supply_chain.check(image, lane, self._stored)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True
