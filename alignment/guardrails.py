"""What a scan reads for the guardrails its cluster's lanes require (alignment.rules.requires),
whether or not its policy's scope includes those kinds: Namespaces, NetworkPolicies,
ResourceQuotas, LimitRanges, Roles and bindings, and the Kyverno policies and Gatekeeper
constraints the lanes name. Nothing is read when no lane of the cluster requires anything.

Only the `policy.*` rules see what is read here: the other rules judge a namespace by what
the policy's scope read of it, and objects from outside that scope would make them see
references and selectors half-read (a NetworkPolicy selecting "nothing" in a namespace
whose workloads were never read).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from alignment import rules
from alignment.rules import requires as guardrail_rules
from drift import kube
from drift.engine.normalize import ObjectKey, key_of
from drift.services.evidence import LiveState
from drift.services.scanning import Reading

log = logging.getLogger(__name__)

NAMESPACE = ("", "Namespace")
RBAC = guardrail_rules.RBAC
# The kinds each requirement needs read (the Namespaces are read whenever one is set).
NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "defaultDenyNetworkPolicy": ((guardrail_rules.NETWORKING, "NetworkPolicy"),),
    "resourceQuota": (("", "ResourceQuota"),),
    "limitRange": (("", "LimitRange"),),
    "noWildcardRoles": ((RBAC, "Role"),),
    "noClusterAdmin": ((RBAC, "RoleBinding"), (RBAC, "ClusterRoleBinding")),
}


def elsewhere(rule: rules.Rule) -> bool:
    """The rules a scan evaluates on what its scope read (all but the guardrails')."""
    return not rule.id.startswith("policy.")


def _theirs(rule: rules.Rule) -> bool:
    return rule.id.startswith("policy.")


@dataclass
class Guardrails:
    """What was read for the lanes' requirements, and which kinds it read in full."""

    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    kinds: set[tuple[str, str]] = field(default_factory=set)

    def violations(
        self,
        live: LiveState,
        lanes: tuple[rules.LaneSpec, ...],
        every_lane: tuple[rules.LaneSpec, ...],
    ) -> list[rules.Violation]:
        """The `policy.*` rules on what the scan read and what was read here."""
        if not self.kinds:
            return []
        objects = {**self.objects, **live.objects}
        kinds = self.kinds | live.read
        return rules.evaluate(
            objects, lambda g, k: (g, k) in kinds, lanes, every_lane=every_lane, only=_theirs
        )

    def mark(self, live: LiveState) -> None:
        """Say these kinds were read in full, so the ledger may resolve their findings.
        Called once every rule has run: the others must not take them for read."""
        live.read |= self.kinds


def kinds_required(lanes: Iterable[rules.LaneSpec]) -> set[tuple[str, str]]:
    """The (group, kind) pairs the lanes' requirements need read."""
    needed: set[tuple[str, str]] = set()
    for lane in lanes:
        requires = lane.requires
        if not requires:
            continue
        needed.add(NAMESPACE)
        for key, kinds in NEEDS.items():
            if requires.get(key) is True:
                needed.update(kinds)
        for name in requires.get("kyvernoPolicies") or []:
            needed.add((guardrail_rules.KYVERNO, "Policy" if "/" in name else "ClusterPolicy"))
        for name in requires.get("gatekeeperConstraints") or []:
            needed.add((guardrail_rules.GATEKEEPER, str(name).partition("/")[0]))
    return needed


def read(reading: Reading, lanes: tuple[rules.LaneSpec, ...]) -> Guardrails:
    """Read what the cluster's lanes require, in the namespaces those lanes own (and the
    cluster-scoped kinds whole). A kind the server does not serve is read, and empty (a
    Kyverno policy cannot exist without Kyverno's CRDs); one that fails to read is not."""
    found = Guardrails()
    requiring = [lane for lane in lanes if lane.requires]
    for group, kind in sorted(kinds_required(requiring)):
        resource = reading.discovery.preferred.get((group, kind))
        if resource is None:
            if not _unavailable(reading.discovery, group):
                found.kinds.add((group, kind))
            continue
        try:
            items = [i for page in reading.connection.pages(resource) for i in page.items]
        except kube.KubeError as error:
            log.warning("guardrails: cannot list %s: %s", resource.plural, error)
            continue
        for item in items:
            key = key_of(item)
            owned = any(lane.owns(key.namespace) for lane in requiring)
            if not key.namespace or owned or group == guardrail_rules.KYVERNO:
                found.objects[key] = item
        found.kinds.add((group, kind))
    return found


def _unavailable(discovery: kube.Discovery, group: str) -> bool:
    """Whether discovery failed for a version of ``group`` (then nothing is known of it)."""
    return any(version.startswith(f"{group}/") for version in discovery.unavailable)
