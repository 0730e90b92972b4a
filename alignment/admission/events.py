"""The payload of the webhook events an admission decision publishes: admission.denied
(a lane refused a change) and admission.break_glass (a change let through by a lane's
break-glass group). Both carry the same shape, in webhook payload version 2 (snake_case);
the schemas in driftcontrol/webhooks describe it."""

from __future__ import annotations

from typing import Any

from alignment.models import AdmissionDecision

DENIED = "admission.denied"
BREAK_GLASS = "admission.break_glass"


def payload(decision: AdmissionDecision) -> dict[str, Any]:
    """What a receiver is told of one recorded decision. Every value is JSON already (the
    time in ISO 8601), so the payload reads the same before and after the outbox."""
    return {
        "cluster": decision.cluster.name,
        "lane": decision.lane,  # "" when no lane owns the namespace
        "outcome": decision.outcome,  # "deny" | "break-glass" (decide.OUTCOMES)
        "rules": list(decision.rules),  # lane.break-glass first for a break-glass
        "message": decision.message,
        "user": decision.user,
        "groups": list(decision.groups),
        "operation": decision.operation,  # CREATE | UPDATE | DELETE
        "api_group": decision.api_group,  # "" for the core group
        "kind": decision.kind,
        "namespace": decision.namespace,  # "" for cluster-scoped objects
        "name": decision.name,  # "" when a CREATE leaves it to generateName
        "subresource": decision.subresource,  # "" for the object itself
        "uid": decision.uid,  # the AdmissionReview's: the API server's audit log has it
        "at": decision.at.isoformat(),
        # Dry runs are never recorded nor published; said so receivers need not guess.
        "dry_run": False,
    }
