"""Compare what Git declares with what the cluster runs, field by field.

The walk visits only what the desired object declares: whatever the API server or other
controllers added live (defaults, allocated IPs, status, injected sidecars) is not drift.
Lists compare by merge key (see `merge_keys`), quantities by value, int-or-string values
by their text. This is the hot path of every scan: it does no copying of the live object
and builds a path tuple only when it has found a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drift.engine import merge_keys, quantity
from drift.engine.paths import MATCHED, Path, States, step

CHANGED, MISSING, REMOVED, UNDECLARED = "changed", "missing", "removed", "undeclared"
_ABSENT = object()


@dataclass(slots=True)
class Difference:
    """One path where live differs from desired, in live coordinates (list indexes)."""

    path: Path
    op: str  # changed | missing (declared, absent live) | removed | undeclared
    desired: Any
    live: Any
    missing_items: tuple[Any, ...] = ()  # keyed or set list items declared but absent live


def is_empty(value: Any) -> bool:
    """Values the API server drops when serializing (omitempty), so absent live is equal."""
    return value is None or value == "" or value is False or value == {} or value == []


def _scalar_equal(desired: Any, live: Any, key: Any, parent: Any) -> bool:
    # int-or-string fields (targetPort, maxSurge) keep the type they were sent with, but
    # manifests spell them either way.
    if (
        type(desired) is not type(live)
        and isinstance(desired, int | str)
        and isinstance(live, int | str)
        and not isinstance(desired, bool)
        and not isinstance(live, bool)
        and str(desired) == str(live)
    ):
        return True
    in_quantity = parent in quantity.QUANTITY_PARENTS or key in quantity.QUANTITY_KEYS
    return in_quantity and quantity.equal(desired, live)


class Walk:
    """One comparison of a desired body against a live object."""

    __slots__ = ("differences", "kind", "path")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.path: list[Any] = []
        self.differences: list[Difference] = []

    def found(self, op: str, desired: Any, live: Any, missing_items: tuple[Any, ...] = ()) -> None:
        self.differences.append(Difference(tuple(self.path), op, desired, live, missing_items))

    def mapping(
        self,
        desired: dict[str, Any],
        live: dict[str, Any],
        parent: str | None,
        owner: str | None,
        ignore: States | None,
    ) -> None:
        path = self.path
        for key, want in desired.items():
            have = live.get(key, _ABSENT)
            if have is want or have == want:
                continue
            states = None
            if ignore is not None:
                states = step(ignore, key)
                if states is MATCHED:
                    continue
                if not states:
                    states = None
            path.append(key)
            if have is _ABSENT or have is None:
                if not is_empty(want):
                    self.found(MISSING, want, None)
            else:
                self.value(want, have, key, parent, owner, states)
            path.pop()

    def value(
        self, want: Any, have: Any, key: Any, parent: Any, owner: str | None, ignore: States | None
    ) -> None:
        kind_of = type(want)
        if kind_of is dict:
            if type(have) is dict:
                self.mapping(want, have, key, owner, ignore)
            elif not (is_empty(want) and is_empty(have)):
                self.found(CHANGED, want, have)
        elif kind_of is list:
            if type(have) is list:
                self.sequence(want, have, key, parent, owner, ignore)
            elif not (is_empty(want) and is_empty(have)):
                self.found(CHANGED, want, have)
        elif not _scalar_equal(want, have, key, parent) and not (is_empty(want) and is_empty(have)):
            self.found(CHANGED, want, have)

    def sequence(
        self,
        want: list[Any],
        have: list[Any],
        key: str,
        parent: Any,
        owner: str | None,
        ignore: States | None,
    ) -> None:
        spec = merge_keys.spec_for(key, owner, parent, self.kind)
        if spec.mode == merge_keys.KEYED:
            self.keyed(want, have, key, spec, ignore)
        elif spec.mode == merge_keys.SET:
            absent = tuple(item for item in want if item not in have)
            if absent:
                self.found(CHANGED, want, have, absent)
        else:
            self.atomic(want, have, key, owner, ignore)

    def keyed(
        self,
        want: list[Any],
        have: list[Any],
        key: str,
        spec: merge_keys.ListSpec,
        ignore: States | None,
    ) -> None:
        identity = spec.identity
        index: dict[tuple[Any, ...], int] = {}
        for position, item in enumerate(have):
            item_key = identity(item)
            if item_key is not None:
                index[item_key] = position
        absent: list[Any] = []
        path = self.path
        for item in want:
            item_key = identity(item)
            found = index.get(item_key) if item_key is not None else None
            if found is None:
                absent.append(item)
                continue
            position = found
            live_item = have[position]
            if live_item == item:
                continue
            states = ignore
            if ignore is not None:
                states = step(ignore, position)
                if states is MATCHED:
                    continue
                if not states:
                    states = None
            path.append(position)
            self.mapping(item, live_item, None, key, states)
            path.pop()
        if absent:
            self.found(CHANGED, want, have, tuple(absent))

    def atomic(
        self, want: list[Any], have: list[Any], key: str, owner: str | None, ignore: States | None
    ) -> None:
        if len(want) != len(have):
            self.found(CHANGED, want, have)
            return
        # Items compare in order, each as declared: a NetworkPolicy port gets its
        # protocol defaulted by the server, which is not drift.
        before = len(self.differences)
        for position, (item, live_item) in enumerate(zip(want, have, strict=True)):
            if item == live_item:
                continue
            states = ignore
            if ignore is not None:
                states = step(ignore, position)
                if states is MATCHED:
                    continue
                if not states:
                    states = None
            self.path.append(position)
            if type(item) is dict and type(live_item) is dict:
                self.mapping(item, live_item, None, key, states)
            else:
                self.value(item, live_item, position, key, owner, states)
            self.path.pop()
        if len(self.differences) > before:
            # Atomic lists are owned and replaced whole: report the list, not its items.
            del self.differences[before:]
            self.found(CHANGED, want, have)


def compare_body(
    body: dict[str, Any], live: dict[str, Any], kind: str, ignore: States | None = None
) -> list[Difference]:
    """Differences between a normalized desired body and a live object (see `normalize`)."""
    walk = Walk(kind)
    walk.mapping(body, live, None, None, ignore)
    return walk.differences
