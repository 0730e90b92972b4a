"""What the admission decisions on one World share, worked out once for the World instead
of on every request: the lane owning each namespace and its mode, the rules' reach there,
which of the rules judged at admission can find anything wrong with an object of a kind
there, and the image checks the rules judge by.

A World is rebuilt when the database changes, never changed: what is worked out here
lives as long as it does. Pure, as alignment.admission.decide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from alignment import rules
from alignment.rules import pods
from alignment.rules.images import ImageCheck
from alignment.rules.lanes import RBAC
from alignment.rules.supply import JUDGEMENTS, requires_evidence
from drift.engine import admission_terms
from drift.engine.normalize import ObjectKey

# The control plane's own namespace: its objects are never a lane's to hold back.
NEVER_JUDGED = frozenset({"kube-system"})
# What the rules judged at admission read of an object: its pod template (the kinds that
# have one), or a RoleBinding's subjects. Anything else none of them judges.
WORKLOAD, BINDING, OTHER = "workload", "binding", "other"
WORKLOADS = frozenset(pods.TEMPLATES)
# The lane allowances the rules compare what a pod template names against.
ALLOWANCES = {"lane.secret": "secrets", "lane.service-account": "service_accounts"}


def judged_at_admission(rule: rules.Rule) -> bool:
    # lane.deployer reads the audit feed's writes; admission judges the writer directly.
    return rule.local and rule.id != "lane.deployer"


def sort_of(key: ObjectKey) -> str:
    """What of the object the rules judged at admission can read."""
    if (key.group, key.kind) in WORKLOADS:
        return WORKLOAD
    return BINDING if (key.group, key.kind) == (RBAC, "RoleBinding") else OTHER


@dataclass(frozen=True, slots=True)
class Place:
    """What decisions on the objects of one namespace share: the lane owning it, its mode,
    whether it wants evidence of images, the rules' reach there, and by sort of object
    (sort_of) the rules that can find anything wrong with it there."""

    lane: rules.LaneSpec
    mode: str
    evidence: bool  # supply.requires_evidence(lane)
    reach: rules.Reach
    judging: Mapping[str, tuple[rules.Rule, ...]]


class Prepared:
    """A World's places, each namespace's worked out when first asked (its lane's globs
    matched once, not on every request), and the image checks its rules judge by."""

    __slots__ = ("lanes", "every_lane", "circumstances", "chosen", "places")

    # Namespaces remembered at most: requests name them, and anyone reaching the port
    # may send any name; past this many, the rest are worked out on every request.
    KEPT = 4096

    def __init__(
        self,
        lanes: tuple[rules.LaneSpec, ...],
        every_lane: tuple[rules.LaneSpec, ...],
        images: Mapping[tuple[str, str], ImageCheck],
        trusted: tuple[str, ...],
    ) -> None:
        self.lanes, self.every_lane = lanes, every_lane
        self.circumstances = rules.Circumstances(images=Vouched(images), trusted=trusted)
        self.chosen = tuple(rule for rule in rules.RULES.values() if judged_at_admission(rule))
        self.places: dict[tuple[str, str], Place | None] = {}

    def place(self, key: ObjectKey) -> Place | None:
        """The place of the object's namespace; None when no one lane owns it (two
        owners: lane.namespace's to say), or the object is the control plane's."""
        namespace = key.name if (key.group, key.kind) == ("", "Namespace") else key.namespace
        # The rules reach the key's namespace: "" for a Namespace (named by its name).
        held = (namespace, key.namespace)
        try:
            return self.places[held]
        except KeyError:
            pass
        found = self._place(key, namespace)
        if len(self.places) < self.KEPT:
            self.places[held] = found
        return found

    def _place(self, key: ObjectKey, namespace: str) -> Place | None:
        if not namespace or namespace in NEVER_JUDGED:
            return None
        owners = [lane for lane in self.lanes if lane.owns(namespace)]
        if len(owners) != 1:
            return None
        lane = owners[0]
        # As rules.evaluate reaches over the one object it is given.
        reach = rules.Reach.of(
            {key: {}},
            rules.everything,
            self.lanes,
            every_lane=self.every_lane,
            circumstances=self.circumstances,
        )
        # The lane the rules take to own the object (for a Namespace, not its own lane).
        judged_by = reach.lanes_of(key.namespace)
        owner = judged_by[0] if len(judged_by) == 1 else None
        judging = {
            sort: tuple(rule for rule in self.chosen if self._can_find(rule, sort, owner, reach))
            for sort in (WORKLOAD, BINDING, OTHER)
        }
        mode = admission_terms.mode(lane.admission)
        return Place(lane, mode, requires_evidence(lane), reach, judging)

    @staticmethod
    def _can_find(
        rule: rules.Rule, sort: str, owner: rules.LaneSpec | None, reach: rules.Reach
    ) -> bool:
        """Whether the rule can find anything wrong with an object of this sort owned by
        ``owner``: what each rule asks before it reads an object (a lane owning it, and
        that lane's terms or an allowance some lane lists). A rule not named here always
        runs."""
        if rule.id in JUDGEMENTS:  # every supply rule: the images of a lane with terms
            return sort == WORKLOAD and owner is not None and bool(owner.supply)
        if rule.id == "lane.registry":
            return sort == WORKLOAD and owner is not None and bool(owner.registries)
        if rule.id in ALLOWANCES:
            field = ALLOWANCES[rule.id]
            listed = any(getattr(lane, field) for lane in (*reach.lanes, *reach.every_lane))
            return sort == WORKLOAD and owner is not None and listed
        if rule.id == "lane.binding":
            return sort == BINDING and owner is not None
        return True


class Vouched(Mapping[tuple[str, str], ImageCheck]):
    """The World's image checks the rules judge by: a check of a registry that could not
    be read is left out, as unknown is not refused (supply.unverifiable is the scan's).
    A view, not a copy: the World's images may be worked out when asked."""

    __slots__ = ("images",)

    def __init__(self, images: Mapping[tuple[str, str], ImageCheck]) -> None:
        self.images = images

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        check = self.images.get(key)
        return default if check is None or check.unverifiable else check

    def __getitem__(self, key: tuple[str, str]) -> ImageCheck:
        check = self.images.get(key)
        if check is None or check.unverifiable:
            raise KeyError(key)
        return check

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return (key for key, check in self.images.items() if not check.unverifiable)

    def __len__(self) -> int:
        return sum(1 for _ in self)
