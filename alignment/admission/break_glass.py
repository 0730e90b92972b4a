"""A change let through by break-glass, kept for review: a `lane.break-glass` finding, an
audit event in the author's name, and an admission.break_glass webhook event.

The finding goes to the policy whose Git manages the object (its ManagedObject row; the
oldest such policy when several do), else to the oldest policy targeting the cluster
whose scope covers the namespace: a change by hand to something Git does not declare
still broke the lane. With no such policy there is no ledger to put it in, and the audit
and webhook events alone tell it. Its severity is the rule's (high) unless the policy's
severity rules name lane.break-glass.

The finding is about a change, not about what the object holds (drift.services.ledger.
ADMITTED): no scan resolves it, a person does once they reviewed it (triage.resolve).
"""

from __future__ import annotations

import logging

from alignment import rules, scanning
from alignment.admission import events
from alignment.models import AdmissionDecision, ManagedObject
from drift.engine.normalize import ObjectKey
from drift.models import Cluster, DriftPolicy, Finding
from drift.services import clusters, desired, evidence, ledger
from driftcontrol import audit
from driftcontrol.outbox import publish

RULE = "lane.break-glass"
ACTOR = "system:admission"

log = logging.getLogger(__name__)


def record(decision: AdmissionDecision, api_version: str) -> Finding | None:
    """Keep the break-glass decision (saved, with its cluster); the finding raised or
    seen again, or None when no policy covers the object."""
    cluster = decision.cluster
    key = ObjectKey(decision.api_group, decision.kind, decision.namespace, decision.name)
    policy, path = _policy(cluster, key)
    finding = None
    if policy is not None:
        finding = _finding(policy, cluster, key, api_version, decision, path)
    else:
        log.warning(
            "admission: break-glass change of %s on %s: no policy covers it, so no finding "
            "(audited, and announced)",
            key,
            cluster.name,
        )
    broken = [rule for rule in decision.rules if rule != RULE]
    audit.record(
        decision.user,
        "admission.break_glass",
        finding if finding is not None else cluster,
        {
            "cluster": cluster.name,
            "lane": decision.lane,
            "groups": decision.groups,
            "operation": decision.operation,
            "object": str(key),
            "subresource": decision.subresource,
            "rules": broken,
            "message": decision.message,
            "uid": decision.uid,
            "finding": finding.pk if finding is not None else None,
        },
    )
    publish(events.BREAK_GLASS, events.payload(decision))
    return finding


def _policy(cluster: Cluster, key: ObjectKey) -> tuple[DriftPolicy | None, str]:
    """The policy the finding belongs to, and the Git file declaring the object."""
    managed = (
        ManagedObject.objects.filter(
            cluster=cluster,
            api_group=key.group,
            kind=key.kind,
            namespace=key.namespace,
            name=key.name,
        )
        .select_related("policy__source")
        .order_by("policy_id")
        .first()
    )
    if managed is not None:
        return managed.policy, managed.path
    namespace = key.name if (key.group, key.kind) == ("", "Namespace") else key.namespace
    for policy in DriftPolicy.objects.select_related("source").order_by("pk"):
        scope = desired.Scope.of(policy)
        if clusters.is_target(policy, cluster) and scope.namespace_in_scope(namespace):
            return policy, ""
    return None, ""


def _finding(
    policy: DriftPolicy,
    cluster: Cluster,
    key: ObjectKey,
    api_version: str,
    decision: AdmissionDecision,
    path: str,
) -> Finding | None:
    broken = [rule for rule in decision.rules if rule != RULE]
    message = decision.message
    if broken:
        message = f"{message.rstrip('.')}. The change broke {', '.join(broken)}"
    groups = ", ".join(decision.groups) or "none"
    said = rules.Evidence(
        key,
        "",
        f"{decision.operation} by {decision.user} (groups: {groups}) at "
        f"{decision.at.isoformat()}, AdmissionReview {decision.uid}",
    )
    violation = rules.Violation(RULE, key, api_version, message, (said,))
    observation = scanning.observation(violation, path, evidence.engine_policy(policy))
    observation.diff["state"] = ledger.ADMITTED
    outcome = ledger.record(
        policy,
        cluster,
        [observation],
        known=lambda _: False,
        actor=ACTOR,
        resolve_scope=[key],  # nothing else is judged: nothing else resolves
        judged_rules=(),
    )
    found = [*outcome.opened, *outcome.seen_again]
    return found[0] if found else None
