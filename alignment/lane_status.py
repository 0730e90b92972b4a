"""What each lane requires of its namespaces, and whether it holds: the open `policy.*`
findings (open or acknowledged, as every page counts them) in the lane's namespaces on its
clusters, per requirement (the Lanes page)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from alignment import scanning
from drift.models import Finding, FindingStatus, FindingType, Lane

# Document key -> the rule that judges it, and how the Lanes page words it.
RULE_OF = {
    "podSecurity": "policy.pod-security",
    "defaultDenyNetworkPolicy": "policy.default-deny",
    "resourceQuota": "policy.resource-quota",
    "limitRange": "policy.limit-range",
    "kyvernoPolicies": "policy.admission",
    "gatekeeperConstraints": "policy.admission",
    "noWildcardRoles": "policy.wildcard-role",
    "noClusterAdmin": "policy.cluster-admin",
}


@dataclass
class Requirement:
    what: str  # "Pod Security restricted", "Kyverno policies require-labels"...
    rule: str
    open: int = 0

    @property
    def holds(self) -> bool:
        return self.open == 0


def describe(requires: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, rule) for each requirement set, in the document's order."""
    found = []
    for key, rule in RULE_OF.items():
        value = requires.get(key)
        if not value:
            continue
        if key == "podSecurity":
            found.append((f"Pod Security {value}, at least", rule))
        elif key in ("kyvernoPolicies", "gatekeeperConstraints"):
            tool = "Kyverno" if key == "kyvernoPolicies" else "Gatekeeper"
            named = f"{tool} {', '.join(value)}"
            if found and found[-1][1] == rule:  # one rule judges both: one row
                named = f"{found.pop()[0]}; {named}"
            found.append((named, rule))
        else:
            words = {
                "defaultDenyNetworkPolicy": "a default-deny NetworkPolicy",
                "resourceQuota": "a ResourceQuota",
                "limitRange": "a LimitRange",
                "noWildcardRoles": "no wildcard Roles",
                "noClusterAdmin": "no cluster-admin for its deployers",
            }
            found.append((words[key], rule))
    return found


def requirements(every_lane: Iterable[Lane]) -> dict[int, list[Requirement]]:
    """Per lane id, its requirements with their open findings (one query; the lanes'
    clusters prefetched)."""
    lanes = [lane for lane in every_lane if lane.requires]
    result = {
        lane.pk: [Requirement(what, rule) for what, rule in describe(lane.requires)]
        for lane in lanes
    }
    if not lanes:
        return result
    open_findings = (
        Finding.objects.filter(
            type=FindingType.ALIGNMENT,
            rule__startswith="policy.",
            status__in=[FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED],
            cluster__in={c.pk for lane in lanes for c in lane.clusters.all()},
        )
        .order_by()
        .values_list("rule", "cluster_id", "kind", "namespace", "name", "diff__evidence")
    )
    specs = dict(zip((lane.pk for lane in lanes), scanning.lane_specs(lanes), strict=True))
    clusters = {lane.pk: {c.pk for c in lane.clusters.all()} for lane in lanes}
    for rule, cluster_id, kind, namespace, name, evidence in open_findings:
        for lane in lanes:
            if cluster_id not in clusters[lane.pk]:
                continue
            spec = specs[lane.pk]
            if kind == "Namespace":
                owned = spec.owns(name)
            elif namespace:
                owned = spec.owns(namespace)
            else:  # a ClusterRoleBinding: its evidence names the lane of each deployer
                owned = any(
                    str(e.get("note", "")).endswith(f"a deployer of lane {lane.name}")
                    for e in evidence or []
                )
            for requirement in result[lane.pk] if owned else []:
                if requirement.rule == rule:
                    requirement.open += 1
    return result
