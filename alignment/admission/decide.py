"""What a lane's admission terms make of one change: allow it, allow it with warnings
(mode warn), refuse it (mode deny), or allow it through break-glass and flag it.

Two things are judged, each as the scans judge it so that a change gets the same verdict
at admission as its object gets afterwards:

- who changes an object Git manages: only the lane's deployers (its identities, matched
  as alignment.rules.deployers matches them) and the identities trusted everywhere;
- the incoming object, by the local alignment rules (lane.secret, lane.service-account,
  lane.registry, lane.binding, supply.*), with what the verification cache holds of its
  images. An image the cache cannot vouch for yet is never looked up here: the change is
  allowed (fail open) and the image listed in `unverified`, for the scan to verify.

Everything comes with the `World` the server holds in memory: no cluster, registry or
database is asked while the API server waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from alignment import rules
from alignment.admission.judging import Place, Prepared, sort_of
from alignment.admission.review import Request
from alignment.rules import deployers, pods
from alignment.rules.images import ImageCheck, containers
from drift.engine.normalize import ObjectKey

OUTCOMES = ("allow", "warn", "deny", "break-glass")
CHANGES = ("CREATE", "UPDATE", "DELETE")


@dataclass(frozen=True, slots=True)
class Managed:
    """Where Git declares an object the cluster runs: its source, the revision deployed,
    and the file."""

    source: str
    revision: str
    path: str


@dataclass(frozen=True, slots=True)
class World:
    """What decisions on one cluster know: its lanes (whose namespaces are whose), every
    lane (whose Secrets, accounts and identities are whose), the objects Git manages on
    it, the identities trusted everywhere (the control plane, DriftControl itself), and
    what the verification cache says of each (lane, image)."""

    lanes: tuple[rules.LaneSpec, ...] = ()
    every_lane: tuple[rules.LaneSpec, ...] = ()
    managed: Mapping[ObjectKey, Managed] = field(default_factory=lambda: MappingProxyType({}))
    trusted: tuple[str, ...] = ()
    images: Mapping[tuple[str, str], ImageCheck] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # (group, resource) -> kind, of the kinds Git manages: a subresource's request names
    # its object by resource only (a scale request sends an autoscaling/v1 Scale).
    kinds: Mapping[tuple[str, str], str] = field(init=False, repr=False, compare=False)
    # What every decision would otherwise work out again from the World alone.
    prepared: Prepared = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        found = {(key.group, resource_of(key.kind)): key.kind for key in self.managed}
        object.__setattr__(self, "kinds", MappingProxyType(found))
        prepared = Prepared(self.lanes, self.every_lane, self.images, self.trusted)
        object.__setattr__(self, "prepared", prepared)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the webhook answers, and what is recorded of it."""

    outcome: str  # one of OUTCOMES
    allowed: bool
    rules: tuple[str, ...] = ()  # the rules broken (lane.break-glass first when it is one)
    message: str = ""  # one line naming each rule broken and why
    warnings: tuple[str, ...] = ()  # what kubectl shows
    # Images the lane wants evidence of that the cache does not hold yet (or could not
    # read): allowed, to be verified by the scan.
    unverified: tuple[str, ...] = ()


ALLOW = Decision("allow", True)


def decide(request: Request, world: World) -> Decision:
    """The lane's verdict on the request. Dry runs are decided alike (the server does not
    record them)."""
    key = target(request, world)
    place = world.prepared.place(key)
    if place is None or request.operation not in CHANGES:
        return ALLOW
    lane, mode = place.lane, place.mode
    # The control plane and DriftControl are never held back: refusing a controller's
    # bookkeeping (a status, a finalizer) is how admission webhooks stop clusters.
    if mode == "off" or _identified(request.user, request.groups, world.trusted):
        return ALLOW
    incoming = _incoming(request)
    # One walk of each pod spec for the images looked up and every rule judging them.
    with pods.walked_once():
        unverified = _unverified(key, incoming, place, world) if incoming is not None else ()
        found = [*_deployer(request, key, lane, world), *_broken(request, key, incoming, place)]
    if not found:
        return Decision("allow", True, unverified=unverified)
    return _verdict(request, key, lane, mode, found, unverified)


def target(request: Request, world: World) -> ObjectKey:
    """The object the request changes: for a subresource, its parent, under the kind Git
    manages for the resource; a Namespace is its own namespace's, cluster-scoped."""
    group, kind = request.kind.group, request.kind.kind
    if request.subresource:
        group = request.resource.group
        kind = world.kinds.get((group, request.resource.resource), kind)
    sent = request.object if request.object is not None else request.old_object
    name = request.name or str(((sent or {}).get("metadata") or {}).get("name") or "")
    namespace = "" if (group, kind) == ("", "Namespace") else request.namespace
    return ObjectKey(group, kind, namespace, name)


def resource_of(kind: str) -> str:
    """The resource the API server names a kind by, as client-go guesses it
    (meta.UnsafeGuessKindToResource): Deployment -> deployments, Ingress -> ingresses."""
    singular = kind.lower()
    if singular.endswith("s"):
        return singular + "es"
    if singular.endswith("y"):
        return singular[:-1] + "ies"
    return singular + "s"


# Who a requester is hardly varies (controllers, deployers, a few people), while matching
# them against every glob is most of a decision's time: remembered, a few thousand at most.
_identified = lru_cache(maxsize=4096)(deployers.identified)


def _incoming(request: Request) -> Mapping[str, Any] | None:
    """The object the rules judge, if the request sends one that can break them: not a
    DELETE's, not a subresource's (a status write cannot change the spec, a Scale has no
    pod template)."""
    if request.operation == "DELETE" or request.subresource or request.object is None:
        return None
    return request.object


def _deployer(
    request: Request, key: ObjectKey, lane: rules.LaneSpec, world: World
) -> list[rules.Violation]:
    """lane.deployer: a change by someone outside the lane to an object Git manages."""
    managed = world.managed.get(key)
    if managed is None or not lane.identities:
        return []  # a lane naming no deployers has none to tell others from (as in scans)
    if _identified(request.user, request.groups, lane.identities):
        return []
    resource = request.resource
    api_version = f"{resource.group}/{resource.version}" if resource.group else resource.version
    message = (
        f"{key} in lane {lane.name} is managed by Git ({managed.source} at "
        f"{managed.revision[:12]}, {managed.path}) and {request.user} is not one of the "
        "lane's deployers: commit the change to Git; the lane's deployer applies it"
    )
    return [rules.Violation("lane.deployer", key, api_version, message)]


def _broken(
    request: Request, key: ObjectKey, incoming: Mapping[str, Any] | None, place: Place
) -> list[rules.Violation]:
    """The local rules the incoming object breaks. An update is judged on what it brings:
    what the object broke already is the scan's to report, and refusing an unrelated
    write (a label, a finalizer) would not undo it."""
    chosen = place.judging[sort_of(key)]
    if incoming is None or not chosen:
        return []  # no rule judged at admission reads anything of the object there
    found = rules.violations({key: incoming}, place.reach, chosen)
    # Nothing broken needs no comparison: most changes are judged once, not twice.
    if found and request.operation == "UPDATE" and request.old_object is not None:
        was = rules.violations({key: request.old_object}, place.reach, chosen)
        before = {(v.rule, v.message) for v in was}
        found = [v for v in found if (v.rule, v.message) not in before]
    return found


def _unverified(
    key: ObjectKey, obj: Mapping[str, Any], place: Place, world: World
) -> tuple[str, ...]:
    """The object's images the lane wants evidence of that the cache holds none of."""
    if not place.evidence:
        return ()
    found: dict[str, None] = {}
    for container in containers(key, obj):
        check = world.images.get((place.lane.name, container.image))
        if check is None or check.unverifiable or check.evidence is None:
            found[container.image] = None
    return tuple(found)


def _verdict(
    request: Request,
    key: ObjectKey,
    lane: rules.LaneSpec,
    mode: str,
    found: list[rules.Violation],
    unverified: tuple[str, ...],
) -> Decision:
    broken = tuple(dict.fromkeys(v.rule for v in found))
    said = tuple(f"{v.rule}: {v.message}" for v in found)
    group = _break_glass_group(request, lane)
    if group:
        note = (
            f"{request.user} changed {key} in lane {lane.name} through break-glass (group "
            f"{group}); the change is recorded for review: put it in Git or revert it"
        )
        warned = (f"lane.break-glass: {note}", *said)
        return Decision(
            "break-glass", True, ("lane.break-glass", *broken), note, warned, unverified
        )
    if mode == "warn":
        return Decision("warn", True, broken, "; ".join(said), said, unverified)
    message = f"lane {lane.name} refuses this change: " + "; ".join(said)
    return Decision("deny", False, broken, message, (), unverified)


def _break_glass_group(request: Request, lane: rules.LaneSpec) -> str:
    """The first of the lane's break-glass groups the user is in ("" when none)."""
    groups = lane.admission.get("breakGlassGroups") or ()
    listed = groups if isinstance(groups, list | tuple) else ()
    return next((g for g in listed if g in request.groups), "")
