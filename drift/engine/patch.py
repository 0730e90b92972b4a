"""RFC 6902 patches that would turn the live object back into what Git declares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drift.engine.diff import CHANGED, MISSING, Difference
from drift.engine.paths import pointer

REDACTED = "<redacted>"


def json_patch(differences: Sequence[Difference], secret: bool = False) -> list[dict[str, Any]]:
    """Replacements first, then removals (highest index first, so indexes stay valid),
    then additions; Secret values are never written out."""
    replaces: list[dict[str, Any]] = []
    removes: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    adds: list[dict[str, Any]] = []
    for difference in differences:
        path = pointer(difference.path)
        if difference.missing_items:
            for item in difference.missing_items:
                adds.append({"op": "add", "path": f"{path}/-", "value": item})
        elif difference.op == CHANGED:
            replaces.append({"op": "replace", "path": path, "value": _value(difference, secret)})
        elif difference.op == MISSING:
            adds.append({"op": "add", "path": path, "value": _value(difference, secret)})
        else:
            removes.append((_sort_key(difference.path), {"op": "remove", "path": path}))
    removes.sort(key=lambda pair: pair[0], reverse=True)
    return replaces + [op for _, op in removes] + adds


def _value(difference: Difference, secret: bool) -> Any:
    if secret and difference.path[:1] == ("data",):
        return REDACTED
    return difference.desired


def _sort_key(path: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        (0, segment, "") if isinstance(segment, int) else (1, 0, str(segment)) for segment in path
    )
