"""The catalogue of webhook events: every type the code can send, what it means, and the
JSON Schema of its delivery. `driftcontrol.outbox.publish` refuses a type not listed here,
so the catalogue cannot fall behind the code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftcontrol.webhooks import schemas
from driftcontrol.webhooks.versions import CURRENT, VERSIONS, schema_in

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name, what it tells, and its payload's (v2) schema."""

    name: str
    description: str
    payload: dict[str, Any]
    # Published to every subscription that wants it; a ping goes to one, on request.
    subscribable: bool = True


_ALL = (
    EventType("finding.opened", "A scan found a new drift.", schemas.FINDING_EVENT),
    EventType("finding.resolved", "The live object matches Git again.", schemas.FINDING_EVENT),
    EventType(
        "finding.severity_changed",
        "A policy change or new evidence changed an open finding's severity.",
        schemas.SEVERITY_CHANGED,
    ),
    EventType("scan.failed", "A scan could not finish.", schemas.SCAN_FAILED),
    EventType(
        "remediation.requested",
        "A remediation was requested (or re-planned: replanned and why are then set).",
        schemas.REQUESTED,
    ),
    EventType("remediation.approved", "A remediation has its approvals.", schemas.DECIDED),
    EventType("remediation.rejected", "An approver rejected a remediation.", schemas.REJECTED),
    EventType("remediation.succeeded", "A remediation ran and verified.", schemas.FINISHED),
    EventType("remediation.failed", "A remediation failed.", schemas.FINISHED),
    EventType(
        "remediation.rolled_back",
        "A rollback request restored objects; rollback_of is the request it undid.",
        schemas.ROLLED_BACK,
    ),
    EventType("remediation.expired", "A remediation was not decided in time.", schemas.DECIDED),
    EventType("remediation.cancelled", "A remediation was cancelled.", schemas.DECIDED),
    EventType("remediation.alert", "An alert-only remediation fired.", schemas.ALERT),
    EventType(
        "admission.denied",
        "The admission webhook refused a change that breaks a rule of a lane in mode deny.",
        schemas.ADMISSION_DENIED,
    ),
    EventType(
        "admission.break_glass",
        "A lane's break-glass group made a change its admission terms hold back: let "
        "through, and raised as a lane.break-glass finding for someone to review.",
        schemas.ADMISSION_BREAK_GLASS,
    ),
    EventType(
        "ping",
        "A test delivery asked for from the API, the browser or the CLI; sent to that one "
        "subscription whatever its event types and filters.",
        schemas.PING,
        subscribable=False,
    ),
)
CATALOGUE: dict[str, EventType] = {event.name: event for event in _ALL}
# What a subscription may name in its event types (a ping needs no subscription).
EVENT_TYPES = tuple(event.name for event in _ALL if event.subscribable)
PING = "ping"


class UnknownEventType(ValueError):
    """An event type that is not in the catalogue."""


def event_type(name: str) -> EventType:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownEventType(
            f"event type {name!r} is not in the webhook catalogue "
            "(driftcontrol/webhooks/events.py); add it there with its schema"
        ) from None


def envelope_schema(name: str, version: int = CURRENT) -> dict[str, Any]:
    """The whole request body of an event of type ``name``, as ``version`` shapes it."""
    event = event_type(name)
    if version not in VERSIONS:
        raise UnknownEventType(f"unknown payload version {version}; use one of {VERSIONS}")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"https://driftcontrol.io/schemas/webhooks/v{version}/{name}.json",
        "title": name,
        "description": event.description,
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "the event's id"},
            "type": {"const": name},
            "time": {"type": "string", "format": "date-time", "description": "when it happened"},
            "payload_version": {"const": version},
            "payload": schema_in(event.payload, version),
        },
        "required": ["id", "type", "time", "payload_version", "payload"],
        "additionalProperties": False,
    }
