"""What a rule says: a violation of one rule by one object, with its evidence.

Rules are pure functions over the objects of one evaluation (a scan's live objects, or
what Git would deploy): no Django, no I/O. Each is registered with a stable id, a default
severity, a title and a runbook (what the violation means and how to fix it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from drift.engine.normalize import ObjectKey

if TYPE_CHECKING:
    from alignment.rules.images import ImageCheck

Objects = Mapping[ObjectKey, Mapping[str, Any]]
# Whether the evaluation holds every object of a kind (group, kind): a reference to a kind
# that was not read can be neither confirmed nor refuted, and is left alone.
Known = Callable[[str, str], bool]


@dataclass(frozen=True, slots=True)
class LaneSpec:
    """A delivery lane as the rules see it: what it owns and what its workloads may use
    (globs; registries are image prefixes). An empty allowance restricts nothing."""

    name: str
    namespaces: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    registries: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    # The guardrails its namespaces must carry: the Lane document's `requires` mapping
    # (alignment.rules.requires reads it); empty requires nothing.
    requires: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # What its images must prove: requireDigest, signers, provenance (drift.engine.
    # supply_terms; alignment.rules.supply reads it); empty requires nothing.
    supply: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # How its admission webhook treats changes: mode, breakGlassGroups (drift.engine.
    # admission_terms; alignment.admission.decide reads it); empty: mode off.
    admission: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def owns(self, namespace: str) -> bool:
        return any(fnmatchcase(namespace, glob) for glob in self.namespaces)


@dataclass(frozen=True, slots=True)
class Write:
    """One write to an object as the API server's audit feed recorded it (or, without a
    feed, as its managedFields show it: then only the field manager is known)."""

    user: str  # the authenticated user; with source "managedFields", the field manager
    verb: str  # create, update, patch, delete
    at: datetime
    groups: tuple[str, ...] = ()
    user_agent: str = ""
    subresource: str = ""  # scale, status...
    source: str = "audit"  # or "managedFields"
    audit_id: str = ""


@dataclass(frozen=True, slots=True)
class GitHead:
    """The revision Git's head resolves to, and since when it has."""

    revision: str
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class GitOpsApp:
    """An Argo CD Application or a Flux Kustomization as the cluster reports it: whether
    it says the cluster runs its Git revision (Synced, Ready), and which revision it
    applied ("" when it does not say). alignment.rules.sync tells which objects it manages."""

    tool: str  # "Argo CD" or "Flux"
    key: ObjectKey
    api_version: str
    verdict: str  # as the tool words it: Synced, OutOfSync, Ready, ...
    in_sync: bool  # it claims the cluster runs its revision
    revision: str = ""


@dataclass(frozen=True, slots=True)
class Circumstances:
    """What an evaluation knows besides the objects: the time, Git's head and how long
    clusters may lag it, the writes recorded per object, the identities trusted to write
    anywhere (controllers, DriftControl itself), and which objects the diff found drifted.
    Rules that need one of these and do not have it stay silent."""

    now: datetime | None = None
    head: GitHead | None = None
    sync_grace: timedelta = timedelta(minutes=10)
    writes: Mapping[ObjectKey, tuple[Write, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    trusted: tuple[str, ...] = ()
    drifted: frozenset[ObjectKey] = frozenset()
    gitops: tuple[GitOpsApp, ...] = ()  # the cluster's Argo CD and Flux deployers
    # What the registries said about each (lane name, image) the lanes want evidence of
    # (alignment.supply_chain reads them), and the policy's Git source URLs: where a lane
    # that names no sourceRepositories requires its images to be built from.
    images: Mapping[tuple[str, str], ImageCheck] = field(
        default_factory=lambda: MappingProxyType({})
    )
    sources: tuple[str, ...] = ()


NOTHING_MORE = Circumstances()


@dataclass(frozen=True, slots=True)
class Reach:
    """What one evaluation can vouch for: the kinds it read, in the namespaces it holds
    objects of (a reference into a namespace it knows nothing of is left alone too), and
    the lanes of the cluster (or the one `drift check --lane` names)."""

    kinds: Known
    namespaces: frozenset[str]
    lanes: tuple[LaneSpec, ...] = ()
    # The lane of objects no lane's namespaces claim (`drift check --lane`).
    default_lane: LaneSpec | None = None
    # Every lane there is (the cluster's own, `lanes`, decide whose namespaces are whose;
    # any lane's Secrets, accounts and identities are that lane's on every cluster).
    every_lane: tuple[LaneSpec, ...] = ()
    circumstances: Circumstances = NOTHING_MORE
    owners: dict[str, list[LaneSpec]] = field(default_factory=dict, compare=False, repr=False)
    # The objects to judge (None: all): the others are there to be referred to. Git's side
    # of a scan judges only what differs from what runs, and what may refer to it.
    judge: frozenset[ObjectKey] | None = None

    @classmethod
    def of(
        cls,
        objects: Objects,
        kinds: Known,
        lanes: tuple[LaneSpec, ...] = (),
        default_lane: LaneSpec | None = None,
        every_lane: tuple[LaneSpec, ...] = (),
        circumstances: Circumstances = NOTHING_MORE,
    ) -> Reach:
        namespaces = frozenset(key.namespace for key in objects)
        return cls(kinds, namespaces, lanes, default_lane, every_lane or lanes, circumstances)

    def lanes_of(self, namespace: str) -> list[LaneSpec]:
        found = self.owners.get(namespace)
        if found is None:  # globs matched once per namespace, not once per object and rule
            owners = [lane for lane in self.lanes if lane.owns(namespace)]
            found = owners or ([self.default_lane] if self.default_lane else [])
            self.owners[namespace] = found
        return found

    def judged(self, objects: Objects) -> Iterable[tuple[ObjectKey, Mapping[str, Any]]]:
        """The objects whose violations this evaluation reports, each with its body."""
        if self.judge is None:
            return objects.items()
        return ((key, objects[key]) for key in self.judge if key in objects)

    def kind(self, group: str, kind: str) -> bool:
        return self.kinds(group, kind)

    def holds(self, key: ObjectKey) -> bool:
        return key.namespace in self.namespaces and self.kinds(key.group, key.kind)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One object and field a violation involves: the one at fault, or the one missing."""

    key: ObjectKey
    path: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "group": self.key.group,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "path": self.path,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    key: ObjectKey  # the object at fault
    api_version: str
    message: str  # one line
    evidence: tuple[Evidence, ...] = ()

    @property
    def severity(self) -> str:
        return RULES[self.rule].severity


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: str
    title: str
    runbook: str
    check: Callable[[Objects, Reach], Iterable[Violation]] = field(repr=False)
    # Judges each object alone (no other object needed): the watcher can evaluate it on
    # one event, and resolve its findings for that object.
    local: bool = False


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, severity: str, title: str, runbook: str, local: bool = False
) -> Callable[[Callable[[Objects, Reach], Iterable[Violation]]], Callable[..., Any]]:
    """Register a rule's check under its stable id."""

    def register(
        check: Callable[[Objects, Reach], Iterable[Violation]],
    ) -> Callable[[Objects, Reach], Iterable[Violation]]:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = Rule(rule_id, severity, title, " ".join(runbook.split()), check, local)
        return check

    return register


def everything(group: str, kind: str) -> bool:
    """Offline, what was given is all there is (`drift check -f`)."""
    return True
