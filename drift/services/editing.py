"""Adding and changing one configuration object from the dashboard's pages.

`configuration.save` creates or updates whatever the document names, as `drift apply`
does. A page means one or the other: "Add" must not replace an object that has the same
name, and "Edit" must neither rename the object nor bring back one deleted meanwhile. The
check runs after the write, in the same transaction, so a concurrent change cannot slip
between a check and the write: a wrong outcome rolls back (audit event included).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from drift import declarative
from drift.engine.rules import Problem
from drift.services import configuration
from driftcontrol.exceptions import Invalid

VIA = "dashboard"


def create(document: dict[str, Any], actor: Any) -> declarative.Applied:
    """Store a new object; Invalid (at metadata.name) when one of its kind has the name."""
    try:
        with transaction.atomic():
            applied = configuration.save(document, actor, via=VIA)
            if applied.action != "created":
                raise _taken(applied.kind, applied.name)
    except IntegrityError:
        # Another page created it between our look for the row and our insert.
        raise _taken(document["kind"], document["metadata"]["name"]) from None
    return applied


def update(document: dict[str, Any], actor: Any, name: str) -> declarative.Applied:
    """Change the object called name; Invalid when the document names another, or when
    the object no longer exists."""
    metadata = document.get("metadata")
    named = metadata.get("name") if isinstance(metadata, dict) else None
    if named != name:
        raise Invalid(
            [Problem("metadata.name", f"must stay {name}: an object keeps its name once made")]
        )
    with transaction.atomic():
        applied = configuration.save(document, actor, via=VIA)
        if applied.action == "created":
            raise Invalid(
                [Problem("metadata.name", f"{applied.kind} {name} was deleted meanwhile")]
            )
    return applied


def _taken(kind: str, name: str) -> Invalid:
    return Invalid(
        [Problem("metadata.name", f"a {kind} named {name} exists already: edit it instead")]
    )
