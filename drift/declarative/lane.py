"""Lane documents: the namespaces, deployers and Git branches a lane of change owns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drift.declarative.reading import Planned, Reader
from drift.engine import admission_terms, requirements, supply_terms

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
    reader.known([*FIELDS, "description", "requires", *supply_terms.KEYS, "admission"])
    values: dict[str, Any] = {field: reader.strings(key) for key, field in FIELDS.items()}
    requires = reader.spec.get("requires", {})
    found = requirements.problems(requires, "spec.requires")
    reader.checked(found)
    values["requires"] = {} if found else requires
    supply = supply_terms.terms(reader.spec)
    found = supply_terms.problems(supply, "spec")
    reader.checked(found)
    values["supply"] = {} if found else supply
    admission = reader.spec.get("admission", {})
    found = admission_terms.problems(admission, "spec.admission")
    reader.checked(found)
    values["admission"] = {} if found else admission
    return Planned("Lane", name, {**values, "description": reader.get("description", str, "")})
