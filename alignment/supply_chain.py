"""What the registries say about the images a scan (or a watch event) found, for the
lanes that require something of them: each image resolved to its digest, and its
signatures and attestations judged under the lane's trust configuration.

A digest names immutable content, so a verdict is kept per digest and trust fingerprint
(alignment.ImageVerification) and a fleet scan verifies each distinct image once; a change
of the lane's signers or of the trusted root makes another fingerprint, and the next scan
verifies again. A verdict that could still improve (no trusted signature or provenance
yet: pipelines often sign after pushing) is read again after SUPPLY_RECHECK_SECONDS.
Tags move, so each scan resolves them again (once per scan, however many workloads name
them). A registry that cannot be read makes the image
unverifiable (`supply.unverifiable`), never unsigned.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from alignment import registry, rules
from alignment.models import ImageVerification, RegistryCredential
from alignment.rules.images import DIGEST_MARK, ImageCheck, containers
from alignment.rules.supply import requires_evidence
from alignment.supply import refs
from alignment.supply.verdict import Evidence
from alignment.supply.verify import KeyedSigner, KeylessSigner, Trust, judge
from drift.engine.normalize import ObjectKey
from driftcontrol.crypto import UnreadableSecret, unseal

log = logging.getLogger(__name__)
# Verdicts that cannot change any more (_settled: signed and attested by the trust's
# signers; a digest's content is immutable and another trust is another key), kept in the
# process too: a warm scan then reads neither the database nor the rows' JSON.
SETTLED_KEPT = 20_000
_settled_verdicts: OrderedDict[tuple[str, str], Evidence] = OrderedDict()
_settled_lock = threading.Lock()


def trust_of(lane: rules.LaneSpec) -> Trust:
    """The lane's signers, with the trusted root keyless signatures chain to."""
    signers: list[KeyedSigner | KeylessSigner] = []
    for signer in lane.supply.get("signers") or []:
        if "key" in signer:
            signers.append(KeyedSigner(signer["name"], signer["key"]))
        else:
            keyless = signer["keyless"]
            signers.append(
                KeylessSigner(
                    signer["name"],
                    keyless["issuer"],
                    keyless.get("subject", ""),
                    keyless.get("subjectPattern", ""),
                )
            )
    keyless = any(isinstance(signer, KeylessSigner) for signer in signers)
    return Trust(tuple(signers), trusted_root() if keyless else "")


@cache
def trusted_root() -> str:
    """The Sigstore trusted root (SIGSTORE_TRUSTED_ROOT, a trusted_root.json) keyless
    signatures are verified against, offline; without one, keyless signatures are never
    trusted. One that cannot be read makes the keyless lanes' images unverifiable (a
    RegistryError, as an unreadable registry does), never untrusted."""
    path = settings.SIGSTORE_TRUSTED_ROOT
    try:
        return Path(path).read_text() if path else ""
    except (OSError, UnicodeDecodeError) as error:
        raise registry.RegistryError(f"SIGSTORE_TRUSTED_ROOT {path}: {error}") from error


@dataclass
class Lookup:
    """One scan's (or one event's) registry reads: each registry host is opened once,
    each tag resolved once, each (digest, trust) verified once, and a host found
    unreachable is not waited for again (its other images are unverifiable at once)."""

    doors: dict[str, registry.Registry] = field(default_factory=dict)
    answers: dict[Hashable, Any] = field(default_factory=dict)  # value or RegistryError
    down: dict[str, registry.Unreachable] = field(default_factory=dict)
    fingerprints: dict[Trust, str] = field(default_factory=dict)

    def close(self) -> None:
        """Close the registries' connections (each scan opens its own)."""
        for door in self.doors.values():
            door.close()
        self.doors.clear()

    def door(self, host: str) -> registry.Registry:
        if host not in self.doors:
            self.doors[host] = registry.Registry(access_to(host))
        return self.doors[host]

    def digest(self, image: refs.ImageRef) -> str:
        """The image's digest: pinned, or what its tag resolves to now."""
        if image.digest:
            return image.digest
        door = self.door(image.host)
        found: str = self._once(
            ("tag", str(image)), image.host, lambda: door.resolve(image.repository, image.tag)
        )
        return found

    def evidence(self, image: refs.ImageRef, digest: str, trust: Trust) -> Evidence:
        """The digest's verdict: kept from an earlier scan (even while its registry is
        down: a digest's content cannot change), else judged from the registry now."""
        door = self.door(image.host)
        key = ("verdict", digest, self.fingerprint(trust))
        if key not in self.answers and (kept := _kept(digest, key[2])) is not None:
            self.answers[key] = kept
        found: Evidence = self._once(key, image.host, lambda: _verified(door, image, digest, trust))
        return found

    def trust(self, lane: rules.LaneSpec) -> Trust:
        """The lane's trust configuration, built once per scan."""
        key = ("trust", lane.name)
        if key not in self.answers:
            self.answers[key] = trust_of(lane)
        found: Trust = self.answers[key]
        return found

    def fingerprint(self, trust: Trust) -> str:
        """The trust's fingerprint, hashed once per scan rather than once per image."""
        if trust not in self.fingerprints:
            self.fingerprints[trust] = trust.fingerprint()
        return self.fingerprints[trust]

    def recall(self, wanted: Mapping[tuple[str, str], rules.LaneSpec]) -> None:
        """The stored verdicts of the pinned images ``wanted`` names, in one query per
        trust: a warm scan asks the database once, not once per image."""
        pinned: dict[Trust, set[str]] = {}
        for (_, image), lane in wanted.items():
            digest = image.partition(DIGEST_MARK)[2]
            if digest and requires_evidence(lane):
                try:
                    trust = self.trust(lane)
                except registry.RegistryError:
                    continue  # its images' checks say why they are unverifiable
                pinned.setdefault(trust, set()).add(f"sha256:{digest}")
        for trust, digests in pinned.items():
            fingerprint = self.fingerprint(trust)
            digests = {d for d in digests if ("verdict", d, fingerprint) not in self.answers}
            with _settled_lock:
                known = {d: _settled_verdicts.get((d, fingerprint)) for d in digests}
            for digest, evidence in known.items():
                if evidence is not None:
                    self.answers["verdict", digest, fingerprint] = evidence
            unknown = [d for d, evidence in known.items() if evidence is None]
            if not unknown:
                continue
            stored = ImageVerification.objects.filter(trust=fingerprint, digest__in=unknown)
            for row in stored:
                if (kept := usable(row)) is not None:
                    self.answers["verdict", row.digest, fingerprint] = kept

    def _once(self, key: Hashable, host: str, read: Callable[[], Any]) -> Any:
        """``read()``'s answer, or its RegistryError, remembered under ``key``."""
        if key not in self.answers:
            try:
                if host in self.down:
                    raise self.down[host]
                self.answers[key] = read()
            except registry.Unreachable as error:
                self.down[host] = error
                self.answers[key] = error
            except registry.RegistryError as error:
                self.answers[key] = error
        found = self.answers[key]
        if isinstance(found, registry.RegistryError):
            raise found
        return found


def access_to(host: str) -> registry.Access:
    """How to reach ``host``: its stored credentials and CA, else anonymously (also when
    no database answers: `drift check` runs in pipelines without one)."""
    try:
        stored = RegistryCredential.objects.filter(host=host).first()
    except DatabaseError:
        stored = None
    timeout = settings.REGISTRY_TIMEOUT_SECONDS
    if stored is None:
        return registry.Access(host, timeout=timeout)
    try:
        password = (
            unseal(stored.password, f"the password of registry {host}") if stored.password else ""
        )
    except UnreadableSecret as error:  # unverifiable, as an unreachable registry is
        raise registry.RegistryError(str(error)) from error
    return registry.Access(
        host,
        username=stored.username,
        password=password,
        ca_pem=stored.ca_pem,
        timeout=timeout,
    )


def _kept(digest: str, fingerprint: str) -> Evidence | None:
    """The stored verdict for (digest, trust), unless it could have improved since."""
    return usable(ImageVerification.objects.filter(digest=digest, trust=fingerprint).first())


def usable(cached: ImageVerification | None) -> Evidence | None:
    """A stored verdict, unless it could have improved since."""
    if cached is None:
        return None
    kept = Evidence.from_dict(cached.evidence)
    _remember(cached.digest, cached.trust, kept)
    age = (timezone.now() - cached.verified_at).total_seconds()
    return kept if _settled(kept) or age < settings.SUPPLY_RECHECK_SECONDS else None


def _verified(door: registry.Registry, image: refs.ImageRef, digest: str, trust: Trust) -> Evidence:
    """The registry's artifacts for the digest judged now, and stored."""
    fingerprint = trust.fingerprint()
    evidence = judge(door.artifacts(image.repository, digest), trust)
    try:
        with transaction.atomic():
            ImageVerification.objects.update_or_create(
                digest=digest,
                trust=fingerprint,
                defaults={"evidence": evidence.as_dict(), "verified_at": timezone.now()},
            )
    except IntegrityError:  # another scan stored the same verdict at the same moment
        pass
    _remember(digest, fingerprint, evidence)
    return evidence


def _remember(digest: str, fingerprint: str, evidence: Evidence) -> None:
    """Keep a settled verdict in the process (SETTLED_KEPT at most, oldest out first)."""
    if not _settled(evidence):
        return
    with _settled_lock:
        _settled_verdicts[digest, fingerprint] = evidence
        while len(_settled_verdicts) > SETTLED_KEPT:
            _settled_verdicts.popitem(last=False)


@lru_cache(maxsize=4096)
def _parsed(image: str) -> refs.ImageRef:
    return refs.parse(image)


def _settled(evidence: Evidence) -> bool:
    """Signed and attested by trusted signers: nothing a later push adds changes that."""
    signed = any(signature.state == "trusted" for signature in evidence.signatures)
    return signed and any(p.signature == "trusted" for p in evidence.provenance)


def checks(
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    lanes: Iterable[rules.LaneSpec],
    lookup: Lookup | None = None,
    default: rules.LaneSpec | None = None,
) -> dict[tuple[str, str], ImageCheck]:
    """What the registries say about each (lane, image) the objects run in a lane that
    requires something of its images (``default``: the lane of namespaces none claims)."""
    wanted = _wanted(objects, tuple(lanes), default)
    own = lookup is None
    reads = lookup or Lookup()
    reads.recall(wanted)
    try:
        return {(lane, image): check(image, spec, reads) for (lane, image), spec in wanted.items()}
    finally:
        if own:
            reads.close()


def _wanted(
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    lanes: tuple[rules.LaneSpec, ...],
    default: rules.LaneSpec | None,
) -> dict[tuple[str, str], rules.LaneSpec]:
    wanted: dict[tuple[str, str], rules.LaneSpec] = {}
    if not any(lane.supply for lane in (*lanes, default) if lane):
        return wanted
    owner: dict[str, rules.LaneSpec | None] = {}  # namespace globs matched once each
    for key, obj in objects.items():
        if key.namespace not in owner:
            owners = [lane for lane in lanes if lane.owns(key.namespace)]
            owners = owners or ([default] if default else [])
            owner[key.namespace] = owners[0] if len(owners) == 1 else None
        lane = owner[key.namespace]
        if lane is None or not lane.supply:
            continue
        for container in containers(key, obj):
            if wants(lane, container.pinned):
                wanted[lane.name, container.image] = lane
    return wanted


def wants(lane: rules.LaneSpec, pinned: bool) -> bool:
    """Whether the lane needs its registry's word on an image: its evidence, or what a
    tag resolves to when the lane requires digests (the digest its finding suggests)."""
    return requires_evidence(lane) or (not pinned and bool(lane.supply.get("requireDigest")))


class Reads(Protocol):
    """Where a check's answers come from: the registries (Lookup), or only what the
    database held already (alignment.admission.images.Stored)."""

    def digest(self, image: refs.ImageRef) -> str: ...
    def evidence(self, image: refs.ImageRef, digest: str, trust: Trust) -> Evidence: ...
    def trust(self, lane: rules.LaneSpec) -> Trust: ...


def check(image: str, lane: rules.LaneSpec, lookup: Reads) -> ImageCheck:
    """What ``lookup`` says of one image the lane wants something of."""
    try:
        parsed = _parsed(image)
    except ValueError as error:
        return ImageCheck(image, unverifiable=f"not an image reference: {error}")
    try:
        digest = lookup.digest(parsed)
    except registry.RegistryError as error:
        return ImageCheck(image, unverifiable=str(error))
    if not requires_evidence(lane):
        return ImageCheck(image, digest)
    try:
        return ImageCheck(
            image, digest, evidence=lookup.evidence(parsed, digest, lookup.trust(lane))
        )
    except registry.RegistryError as error:
        return ImageCheck(image, digest, unverifiable=str(error))
