"""Payload versions: events are built and stored once, in version 2 (snake_case, as the
REST API names things); version 1 (camelCase, deprecated) is derived when a delivery is
sent to a subscription that still asks for it.

The derivation renames keys at known places only: a payload also carries values whose keys
are not ours to rename (a remediation's ``result.remaining`` is keyed by object names).
"""

from __future__ import annotations

import copy
from typing import Any

CURRENT = 2
LEGACY = 1
VERSIONS = (LEGACY, CURRENT)

# Where (a path of object keys from the payload's top) which v2 key had which v1 name.
# Keys not listed are the same in both versions.
V1_NAMES: dict[tuple[str, ...], dict[str, str]] = {
    (): {
        "previous_severity": "previousSeverity",
        "rollback_of": "rollbackOf",
        "requested_by": "requestedBy",
        # admission.denied and admission.break_glass, which came after version 2, in the
        # names version 1 would have given them.
        "api_group": "apiGroup",
        "dry_run": "dryRun",
    },
    ("finding",): {
        "api_version": "apiVersion",
        "first_seen": "firstSeen",
        "last_seen": "lastSeen",
        "resolved_at": "resolvedAt",
        "recurrence_of": "recurrenceOf",
        "ticket_id": "ticketId",
        "ticket_url": "ticketUrl",
    },
    ("request",): {
        "plan_version": "planVersion",
        "approvals_required": "approvalsRequired",
        "requested_by": "requestedBy",
    },
}


def payload_in(payload: dict[str, Any], version: int) -> dict[str, Any]:
    """The stored (v2) payload as ``version`` shapes it."""
    if version == CURRENT:
        return payload
    if version != LEGACY:
        raise ValueError(f"unknown payload version {version}; use one of {VERSIONS}")
    return _renamed(payload, (), V1_NAMES)


def _renamed(
    document: dict[str, Any], at: tuple[str, ...], names: dict[tuple[str, ...], dict[str, str]]
) -> dict[str, Any]:
    here = names.get(at, {})
    renamed: dict[str, Any] = {}
    for key, value in document.items():
        inner = (*at, key)
        if isinstance(value, dict) and any(path[: len(inner)] == inner for path in names):
            value = _renamed(value, inner, names)
        renamed[here.get(key, key)] = value
    return renamed


def as_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 payload in v2 names (events stored before version 2 existed)."""
    back = {at: {old: new for new, old in table.items()} for at, table in V1_NAMES.items()}
    return _renamed(payload, (), back)


def schema_in(schema: dict[str, Any], version: int) -> dict[str, Any]:
    """A v2 payload schema as ``version`` names its properties."""
    if version == CURRENT:
        return schema
    if version != LEGACY:
        raise ValueError(f"unknown payload version {version}; use one of {VERSIONS}")
    return _schema_renamed(copy.deepcopy(schema), ())


def _schema_renamed(schema: dict[str, Any], at: tuple[str, ...]) -> dict[str, Any]:
    here = V1_NAMES.get(at, {})
    properties = schema.get("properties")
    if properties is None:
        return schema
    schema["properties"] = {
        here.get(key, key): _schema_renamed(value, (*at, key)) for key, value in properties.items()
    }
    schema["required"] = [here.get(key, key) for key in schema.get("required", [])]
    return schema
