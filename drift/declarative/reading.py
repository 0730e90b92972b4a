"""Reading one document's fields: every kind's reader asks a `Reader` for its fields, and
each problem is recorded under the document's own path (`documents[i].spec.field`), so
that a batch reports all of its problems at once."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from drift.engine import rules
from drift.engine.rules import Problem

API_VERSION = "driftcontrol.io/v1alpha1"
KINDS = ("Lane", "GitSource", "Cluster", "DriftPolicy")  # the order they are applied in
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass
class Planned:
    """One valid document, read into the model's field values, ready to be written."""

    kind: str
    name: str
    values: dict[str, Any]
    lanes: list[str] = field(default_factory=list)
    credentials: str | None = None  # a Cluster's kubeconfig; None keeps the stored one
    credentials_given: bool = False
    hook_secret: str | None = None  # "" removes the secret, None keeps it
    index: int = 0


class Reader:
    """Reads one document's fields, collecting problems under `documents[i].<path>`."""

    def __init__(self, index: int, doc: dict[str, Any], problems: list[Problem]) -> None:
        self.index, self.doc, self.problems = index, doc, problems
        spec = doc.get("spec")
        self.spec: dict[str, Any] = spec if isinstance(spec, dict) else {}

    def where(self, path: str) -> str:
        return f"documents[{self.index}].{path}"

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.where(path), message))

    def known(self, allowed: Iterable[str]) -> None:
        for name in sorted(set(self.spec) - set(allowed)):
            self.problem(
                f"spec.{name}", f"unknown field; expected one of {', '.join(sorted(allowed))}"
            )

    def get(self, name: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.spec.get(name, default)
        if value is not default and not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            self.problem(f"spec.{name}", f"must be {_article(names)}")
            return default
        return value

    def choice(self, name: str, choices: Iterable[str], default: str) -> str:
        value = self.get(name, str, default)
        allowed = list(choices)
        if value not in allowed:
            self.problem(f"spec.{name}", f"must be one of {', '.join(allowed)}")
            return default
        return str(value)

    def strings(self, name: str) -> list[str]:
        value = self.get(name, list, [])
        found: list[Problem] = []
        rules.string_list(value, self.where(f"spec.{name}"), found)
        self.problems.extend(found)
        return list(value) if not found else []

    def checked(self, problems: list[Problem]) -> None:
        """Record problems an engine validator found, their paths relative to the document."""
        self.problems.extend(Problem(self.where(p.path), p.message) for p in problems)


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
