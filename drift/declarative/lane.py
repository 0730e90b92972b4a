"""Lane documents: the namespaces, deployers and Git branches a lane of change owns."""

from __future__ import annotations

from pathlib import Path

from drift.declarative.reading import Planned, Reader

# Document key -> model field: what the lane owns, and what its workloads may use.
FIELDS = {
    "namespaces": "namespaces",
    "identities": "identities",
    "branches": "branches",
    "registries": "registries",
    "serviceAccounts": "service_accounts",
    "secrets": "secrets",
}


def read(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known([*FIELDS, "description"])
    values = {field: reader.strings(key) for key, field in FIELDS.items()}
    return Planned("Lane", name, {**values, "description": reader.get("description", str, "")})
