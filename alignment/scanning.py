"""The alignment rules in a scan: evaluated on what the scan read from the cluster, each
violation an `alignment` observation for the findings ledger, next to the drift.

drift.services.scanning finds this module by name (driftcontrol.extensions), so detection
does not import the rooms built on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alignment import rules
from drift.engine.policy import EnginePolicy
from drift.models import Cluster, FindingType, Lane
from drift.services import desired, evidence
from drift.services.ledger import Observation


def observe(
    state: desired.DesiredState,
    live: evidence.LiveState,
    cluster: Cluster | None,
    policy: EnginePolicy,
) -> list[Observation]:
    """One observation per rule an object in the cluster breaks; only kinds the scan read
    completely count as known (a reference to another kind is neither kept nor refuted),
    the lane rules judge by the cluster's lanes, and the policy's severity rules that name
    alignment rules rank them."""

    def known(group: str, kind: str) -> bool:
        return (group, kind) in live.read

    lanes = lane_specs(cluster.lanes.all()) if cluster is not None and cluster.pk else ()
    every_lane = lane_specs(Lane.objects.all()) if lanes else ()
    found = rules.evaluate(live.objects, known, lanes, every_lane=every_lane)
    return [_observation(v, state, policy.alignment_level(v.key, v.rule)) for v in found]


def lane_specs(lanes: Iterable[Lane]) -> tuple[rules.LaneSpec, ...]:
    """Lane rows as the rules see them."""
    return tuple(
        rules.LaneSpec(
            lane.name,
            tuple(lane.namespaces),
            tuple(lane.identities),
            tuple(lane.registries),
            tuple(lane.service_accounts),
            tuple(lane.secrets),
        )
        for lane in lanes
    )


def _observation(
    violation: rules.Violation, state: desired.DesiredState, level: str | None
) -> Observation:
    declared = state.objects.get(violation.key)
    found: dict[str, Any] = {
        "paths": [e.path for e in violation.evidence[:1] if e.path],
        "message": violation.message,
        "evidence": [e.as_dict() for e in violation.evidence],
    }
    return Observation(
        key=violation.key,
        api_version=violation.api_version,
        type=FindingType.ALIGNMENT,
        severity=level or violation.severity,
        diff=found,
        source=declared.source if declared else "",
        rule=violation.rule,
    )
