"""`drift check -f DIR`: the alignment rules on what Git would deploy, before it merges.

Offline (no database, no cluster): every YAML and JSON file under the directory is read
as the whole declaration of its namespaces, so a reference resolves only to an object
the directory holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignment import rules
from drift.engine import bounds, manifests
from drift.engine.normalize import ObjectKey, key_of

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


def check_directory(directory: Path) -> Checked:
    """Read every manifest under ``directory`` and evaluate the rules on them."""
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    checked = Checked()
    budget = bounds.AliasBudget(bounds.DEFAULT_ALIAS_BYTES)
    for path in sorted(p for p in directory.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
        checked.files += 1
        label = str(path.relative_to(directory))
        documents, errors = manifests.parse(path.read_bytes(), label, budget)
        checked.problems += [str(error) for error in errors]
        for document in documents:
            key = key_of(document.obj)
            if key in checked.objects:
                first = checked.sources[key]
                checked.problems.append(
                    f"{document.source}: {key} is declared twice (first at {first})"
                )
                continue
            checked.objects[key] = document.obj
            checked.sources[key] = document.source
    checked.violations = rules.evaluate(checked.objects)
    return checked
