"""List items a live edit put in the place of declared ones, which a sync must take out.

In a keyed list (Service ports by port and protocol, containers by name...) the key is the
item's identity. A live edit of a key (port 9999 -> 9998, a container renamed) leaves the
declared item missing and another item in its place, owned by whoever made the edit.
Server-side apply of what Git declares keeps that item (it is not the applier's to remove)
and adds the declared one beside it; the server then refuses the pair (`spec.ports[2].name:
Duplicate value: "grpc"`) or, worse, keeps both. So a sync first puts the declared
item in the displaced one's place, then applies.

An undeclared item counts as displaced only when it stands in for a declared item that is
missing live: it carries the same `name`, or it is the only undeclared item where exactly
one declared item is missing. Items others added beside the declared ones (a sidecar, a
port a controller opened) are left alone: they are not in the way.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from drift.engine import merge_keys
from drift.engine.paths import escape, split


@dataclass(frozen=True)
class Displaced:
    """A live list item to remove: where it is, and the key values that identify it."""

    pointer: str  # JSON pointer of the item in the live object, e.g. /spec/ports/1
    keys: dict[str, Any]  # its key fields as live holds them, to test before removing
    replaces: dict[str, Any]  # the declared item it stands in for
    declared_pointer: str  # where that item is in the declared object

    def patch(self) -> list[dict[str, Any]]:
        """RFC 6902 operations that put the declared item in place of the displaced one,
        only if it is still the same one. Removing and adding in one patch keeps a list
        the server requires (a Service's only port) from ever being empty."""
        tests = [
            {"op": "test", "path": f"{self.pointer}/{escape(name)}", "value": value}
            for name, value in self.keys.items()
        ]
        return [
            *tests,
            {"op": "remove", "path": self.pointer},
            {"op": "add", "path": self.pointer, "value": self.replaces},
        ]


def displaced(declared: dict[str, Any], live: dict[str, Any]) -> list[Displaced]:
    """Every displaced item of ``live`` (deepest and last first, so that removing them in
    that order keeps the pointers of the others valid)."""
    kind = str(declared.get("kind", ""))
    found = list(_mapping(declared, live, "", None, None, kind))
    return sorted(found, key=lambda d: _order(d.pointer), reverse=True)


def _mapping(
    want: dict[str, Any], have: dict[str, Any], path: str, parent: str | None,
    owner: str | None, kind: str,
) -> Iterator[Displaced]:  # fmt: skip
    for name, wanted in want.items():
        if name in ("metadata", "status") and not path:
            continue
        held = have.get(name)
        here = f"{path}/{escape(name)}"
        if isinstance(wanted, dict) and isinstance(held, dict):
            yield from _mapping(wanted, held, here, name, owner, kind)
        elif isinstance(wanted, list) and isinstance(held, list):
            yield from _sequence(wanted, held, here, name, parent, owner, kind)


def _sequence(
    want: list[Any], have: list[Any], path: str, field: str, parent: str | None,
    owner: str | None, kind: str,
) -> Iterator[Displaced]:  # fmt: skip
    spec = merge_keys.spec_for(field, owner, parent, kind)
    if spec.mode != merge_keys.KEYED:
        return
    live_at = {spec.identity(item): i for i, item in enumerate(have)}
    declared = {spec.identity(item): (j, item) for j, item in enumerate(want)}
    missing = [pair for key, pair in declared.items() if key is not None and key not in live_at]
    extra = [(i, have[i]) for key, i in live_at.items() if key is not None and key not in declared]
    for (j, replaces), (index, item) in _pairs(missing, extra):
        keys = {name: item[name] for name in spec.fields if name in item}
        yield Displaced(f"{path}/{index}", keys, replaces, f"{path}/{j}")
    for key, (_, item) in declared.items():
        at = live_at.get(key)
        if at is not None and isinstance(item, dict) and isinstance(have[at], dict):
            yield from _mapping(item, have[at], f"{path}/{at}", None, field, kind)


def _pairs(
    missing: list[tuple[int, Any]], extra: list[tuple[int, Any]]
) -> Iterator[tuple[tuple[int, Any], tuple[int, Any]]]:
    """Which undeclared live item stands in for which missing declared item: the one with
    the same name; else the only one left, for the only declared item left."""
    taken: set[int] = set()
    unpaired = []
    for wanted in missing:
        name = wanted[1].get("name") if isinstance(wanted[1], dict) else None
        match = next(
            (
                (i, item)
                for i, item in extra
                if name and i not in taken and isinstance(item, dict) and item.get("name") == name
            ),
            None,
        )
        if match is None:
            unpaired.append(wanted)
            continue
        taken.add(match[0])
        yield wanted, match
    left = [(i, item) for i, item in extra if i not in taken]
    if len(unpaired) == 1 and len(left) == 1:
        yield unpaired[0], left[0]


def without_replaced(declared: dict[str, Any], found: list[Displaced]) -> dict[str, Any]:
    """A copy of ``declared`` without the items displaced ones stand in for: what a server
    dry run can take while the displaced items are still there."""
    result = copy.deepcopy(declared)
    for pointer in sorted((d.declared_pointer for d in found), key=_order, reverse=True):
        *parent, index = split(pointer)
        del _at(result, parent)[int(index)]
    return result


def with_replacements(obj: dict[str, Any], found: list[Displaced]) -> dict[str, Any]:
    """A copy of ``obj`` (the live object, or a dry run's answer) with each displaced item
    replaced by the declared item it stands in for."""
    result = copy.deepcopy(obj)
    for item in found:
        *parent, index = split(item.pointer)
        _at(result, parent)[int(index)] = copy.deepcopy(item.replaces)
    return result


def _at(obj: Any, segments: list[str]) -> Any:
    for segment in segments:
        obj = obj[int(segment)] if isinstance(obj, list) else obj[segment]
    return obj


def _order(pointer: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pointer.split("/")[1:])
