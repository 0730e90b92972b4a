"""JSON Schemas (draft 2020-12) of webhook payloads, version 2 (snake_case).

Only the payload of each event is described here; `events.envelope_schema` wraps it in the
envelope every delivery carries. Enumerations repeat the domain's choices (the core may
not import the apps that define them); tests/api/test_webhook_contract.py keeps them equal.
Version 1 schemas are derived from these by `versions.schema_in`.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

SEVERITIES = ("info", "low", "medium", "high", "critical")
FINDING_TYPES = ("modified", "missing", "unmanaged", "alignment")
FINDING_STATUSES = ("open", "acknowledged", "suppressed", "resolved")
REQUEST_STATUSES = (
    "pending",
    "approved",
    "executing",
    "succeeded",
    "failed",
    "rolled_back",
    "rejected",
    "expired",
    "cancelled",
)
STRATEGIES = ("sync", "rollback", "alert")
REQUEST_TRIGGERS = ("manual", "auto", "verification", "flapping")
# alignment.admission.decide.CHANGES: the operations a lane's admission terms judge.
ADMISSION_OPERATIONS = ("CREATE", "UPDATE", "DELETE")

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
ID: Schema = {"type": "integer", "minimum": 1}
TIME: Schema = {"type": "string", "format": "date-time"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def closed(properties: Schema, optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these properties (all required except ``optional``)."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


LINKS = closed(
    {"ui": {"type": "string", "format": "uri"}, "api": {"type": "string", "format": "uri"}}
)

FINDING = closed(
    {
        "id": ID,
        "type": {"enum": list(FINDING_TYPES)},
        "rule": {**STRING, "description": "the alignment rule broken, or empty for drift"},
        "severity": {"enum": list(SEVERITIES)},
        "status": {"enum": list(FINDING_STATUSES)},
        "cluster": STRING,
        "policy": nullable(STRING),
        "api_version": STRING,
        "kind": STRING,
        "namespace": {**STRING, "description": "empty for cluster-scoped objects"},
        "name": STRING,
        "paths": {"type": "array", "items": STRING, "description": "JSON Pointers that differ"},
        "first_seen": TIME,
        "last_seen": TIME,
        "resolved_at": nullable(TIME),
        "occurrences": {"type": "integer", "minimum": 1},
        "recurrence_of": {**nullable(ID), "description": "the earlier episode of this drift"},
        "ticket_id": {**STRING, "description": "the linked ticket, or empty"},
        "ticket_url": {**STRING, "description": "the linked ticket's URL, or empty"},
    },
    # Events queued before findings had rules carry none.
    optional=("rule",),
)

REQUEST = closed(
    {
        "id": ID,
        "strategy": {"enum": list(STRATEGIES)},
        "status": {"enum": list(REQUEST_STATUSES)},
        "severity": {"enum": list(SEVERITIES)},
        "cluster": STRING,
        "policy": nullable(STRING),
        "trigger": {"enum": list(REQUEST_TRIGGERS)},
        "plan_version": {"type": "integer", "minimum": 1},
        "findings": {"type": "array", "items": ID},
        "approvals_required": {"type": "integer", "minimum": 0},
        "requested_by": {**STRING, "description": "a username, or system"},
    }
)

FINDING_EVENT = closed({"finding": FINDING, "links": LINKS})
SEVERITY_CHANGED = closed(
    {
        "finding": FINDING,
        "links": LINKS,
        "previous_severity": {"enum": list(SEVERITIES)},
        "escalated": {"type": "boolean", "description": "true when the severity went up"},
    }
)
SCAN_FAILED = closed({"scan": ID, "policy": STRING, "cluster": STRING, "error": STRING})


def request_event(extra: Schema | None = None, optional: tuple[str, ...] = ()) -> Schema:
    return closed({"request": REQUEST, "links": LINKS, **(extra or {})}, optional)


REQUESTED = request_event(
    {
        "replanned": {"const": True, "description": "present when the request was re-planned"},
        "why": {**STRING, "description": "why it was re-planned (with replanned)"},
    },
    optional=("replanned", "why"),
)
DECIDED = request_event()
REJECTED = request_event({"comment": {**STRING, "description": "the approver's reason"}})
FINISHED = request_event(
    {
        "reason": STRING,
        "result": {
            "type": "object",
            "description": "what the execution reports (verified, error, step, remaining...)",
        },
    }
)
ROLLED_BACK = request_event({"rollback_of": {**nullable(ID), "description": "the request undone"}})
ALERT = request_event({"reason": STRING})
PING = closed(
    {
        "subscription": closed({"id": ID, "name": STRING}),
        "requested_by": {**STRING, "description": "who asked for the ping"},
    }
)


def admission_event(outcome: str) -> Schema:
    """One decision of the admission webhook (alignment.admission.events.payload): the
    change asked for, who asked, and the rules it broke."""
    return closed(
        {
            "cluster": STRING,
            "lane": {**STRING, "description": "the lane whose terms decided, or empty"},
            "outcome": {"const": outcome},
            "rules": {
                "type": "array",
                "items": STRING,
                "description": "the rules broken; lane.break-glass first for a break-glass",
            },
            "message": {**STRING, "description": "one line naming each rule broken and why"},
            "user": {**STRING, "description": "the requester, as the API server names them"},
            "groups": {"type": "array", "items": STRING, "description": "the requester's"},
            "operation": {"enum": list(ADMISSION_OPERATIONS)},
            "api_group": {**STRING, "description": "empty for the core group"},
            "kind": STRING,
            "namespace": {**STRING, "description": "empty for cluster-scoped objects"},
            "name": {**STRING, "description": "empty when a CREATE leaves it to generateName"},
            "subresource": {**STRING, "description": "e.g. scale; empty for the object itself"},
            "uid": {**STRING, "description": "the AdmissionReview's (the API server's audit log)"},
            "at": {**TIME, "description": "when the webhook decided"},
            "dry_run": {"const": False, "description": "dry runs are never published"},
        }
    )


ADMISSION_DENIED = admission_event("deny")
ADMISSION_BREAK_GLASS = admission_event("break-glass")
