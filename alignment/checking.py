"""`drift check -f DIR`: the alignment rules on what Git would deploy, before it merges.

Offline (no cluster): every YAML and JSON file under the directory is read as the whole
declaration of its namespaces, so a reference resolves only to an object the directory
holds. DriftControl's own `Lane` documents among them define the lanes (validated as
`drift apply` validates them); without any, the lanes come from the database, and only
then is one needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import DatabaseError

from alignment import rules, scanning, supply_chain
from drift.declarative import lane as lane_document
from drift.declarative.reading import API_VERSION, Reader
from drift.engine import bounds, manifests
from drift.engine.normalize import ObjectKey, key_of
from drift.engine.rules import Problem
from drift.models import Lane

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Checked:
    files: int = 0
    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    sources: dict[ObjectKey, str] = field(default_factory=dict)  # key -> file:line
    problems: list[str] = field(default_factory=list)
    violations: list[rules.Violation] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "objects": len(self.objects),
            "problems": self.problems,
            "violations": [self.describe(v) for v in self.violations],
        }

    def describe(self, violation: rules.Violation) -> dict[str, Any]:
        where = violation.evidence[0].path if violation.evidence else ""
        return {
            "rule": violation.rule,
            "severity": violation.severity,
            "object": str(violation.key),
            "apiVersion": violation.api_version,
            "field": where,
            "source": self.sources.get(violation.key, ""),
            "message": violation.message,
            "evidence": [e.as_dict() for e in violation.evidence],
            "runbook": rules.RULES[violation.rule].runbook,
        }


class UnknownLane(LookupError):
    pass


def check_directory(directory: Path, lane: str | None = None, registries: bool = False) -> Checked:
    """Read every manifest under ``directory`` and evaluate the rules on them; ``lane``
    names the lane of the manifests no lane's namespaces claim. With ``registries``, the
    images of lanes that require signatures or provenance are looked up in their
    registries (offline, only `supply.digest` judges images)."""
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    checked, documents = _read(directory)
    lanes = _lanes(documents, checked.problems) or _stored_lanes(required=bool(lane))
    default = next((spec for spec in lanes if spec.name == lane), None)
    if lane and default is None:
        known = ", ".join(spec.name for spec in lanes) or "none"
        raise UnknownLane(f"no lane {lane} (lanes: {known})")
    images = supply_chain.checks(checked.objects, lanes, default=default) if registries else {}
    circumstances = rules.Circumstances(images=images)
    checked.violations = rules.evaluate(
        checked.objects, rules.everything, lanes, default, circumstances=circumstances
    )
    return checked


def _read(directory: Path) -> tuple[Checked, list[dict[str, Any]]]:
    checked, ours = Checked(), []
    budget = bounds.AliasBudget(bounds.DEFAULT_ALIAS_BYTES)
    for path in sorted(p for p in directory.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
        checked.files += 1
        label = str(path.relative_to(directory))
        documents, errors = manifests.parse(path.read_bytes(), label, budget)
        checked.problems += [str(error) for error in errors]
        for document in documents:
            if str(document.obj.get("apiVersion", "")) == API_VERSION:
                ours.append(document.obj)  # DriftControl's configuration, not a manifest
                continue
            key = key_of(document.obj)
            if key in checked.objects:
                first = checked.sources[key]
                checked.problems.append(
                    f"{document.source}: {key} is declared twice (first at {first})"
                )
                continue
            checked.objects[key] = document.obj
            checked.sources[key] = document.source
    return checked, ours


def _lanes(documents: list[dict[str, Any]], problems: list[str]) -> tuple[rules.LaneSpec, ...]:
    found = []
    for index, document in enumerate(documents):
        if document.get("kind") != "Lane":
            continue
        read: list[Problem] = []
        planned = lane_document.read(Reader(index, document, read), "", None)
        name = str((document.get("metadata") or {}).get("name", ""))
        problems += [f"Lane {name}: {p.path}: {p.message}" for p in read]
        found.append(Lane(name=name, **planned.values))
    return scanning.lane_specs(found)


def _stored_lanes(required: bool) -> tuple[rules.LaneSpec, ...]:
    """The database's lanes; with none reachable, none (the lane rules rest) unless the
    caller named a lane."""
    try:
        return scanning.lane_specs(Lane.objects.all())
    except DatabaseError as error:
        if required:
            problem = f"no Lane documents in the directory, and no database: {error}"
            raise UnknownLane(problem) from error
        return ()
