"""Configuration one object at a time, as the API and the dashboard's settings pages write
it: a single driftcontrol.io/v1alpha1 document, checked and applied exactly as
`drift apply` checks and applies a batch, its problems named by the document's own field
paths (`spec.interval`, not `documents[0].spec.interval`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from drift import declarative
from drift.engine.rules import Problem
from driftcontrol.exceptions import Invalid


def validate(document: dict[str, Any]) -> declarative.Planned:
    """What applying the document would write, once it is found valid; nothing is
    written. Raises Invalid naming every problem."""
    with _one_document():
        return declarative.plan([document])[0]


def save(document: dict[str, Any], actor: Any, via: str) -> declarative.Applied:
    """Create or update the object the document describes: all of it or none, audited as
    coming through ``via`` (`api`, `dashboard`). The same document again changes nothing."""
    with _one_document():
        return declarative.apply([document], actor, via=via)[0]


@contextlib.contextmanager
def _one_document() -> Iterator[None]:
    try:
        yield
    except declarative.InvalidDocuments as invalid:
        one = [Problem(_in_document(p.path), p.message) for p in invalid.problems]
        raise Invalid(one) from invalid


def _in_document(path: str) -> str:
    """`documents[0].spec.interval` -> `spec.interval`; the document itself -> `document`."""
    inside = path.removeprefix("documents[0]").removeprefix(".")
    return inside or "document"
