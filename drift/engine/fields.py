"""metadata.managedFields: who owns which field, for attribution and for removals.

Each entry names a field manager (`kubectl-edit`, `kubectl-client-side-apply`, a
controller), its operation (Apply or Update), a time, and the fields it owns as a FieldsV1
trie: `f:<field>` for map keys, `k:<json>` for keyed list items, `v:<json>` for set
items, `.` for owning an item itself. Atomic lists are owned whole, as a leaf.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drift.engine import merge_keys
from drift.engine.diff import REMOVED, Difference, is_empty
from drift.engine.normalize import LAST_APPLIED, TRACKING_METADATA
from drift.engine.paths import Path, PatternSet

# Of an object's metadata only labels and annotations are declared state; the rest
# (finalizers, ownerReferences) belongs to controllers.
_METADATA_DECLARED = frozenset({"f:labels", "f:annotations"})
_SKIPPED_ANNOTATIONS = frozenset({f"f:{LAST_APPLIED}"})


def _tracking(name: str, path: Path) -> bool:
    """Whether a key is a deployer's tracking label or annotation of the object itself."""
    return name in TRACKING_METADATA and len(path) == 2 and path[0] == "metadata"


@dataclass(frozen=True, slots=True)
class ManagedEntry:
    manager: str
    operation: str
    time: str
    api_version: str
    fields: dict[str, Any]
    subresource: str = ""

    def describe(self) -> dict[str, str]:
        described = {"manager": self.manager, "operation": self.operation, "time": self.time}
        if self.subresource:
            described["subresource"] = self.subresource
        return described


def entries(live: dict[str, Any]) -> list[ManagedEntry]:
    """The managedFields entries that describe the version this live object was read in.

    FieldsV1 paths are in the schema of the entry's apiVersion; entries for another
    version cannot be matched field by field and are left out.
    """
    api_version = live.get("apiVersion", "")
    found = []
    for raw in (live.get("metadata") or {}).get("managedFields") or ():
        if raw.get("fieldsType", "FieldsV1") != "FieldsV1" or not raw.get("fieldsV1"):
            continue
        if raw.get("apiVersion", api_version) != api_version:
            continue
        found.append(
            ManagedEntry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "")),
                time=str(raw.get("time") or ""),
                api_version=str(raw.get("apiVersion", "")),
                fields=raw["fieldsV1"],
                subresource=str(raw.get("subresource") or ""),
            )
        )
    return found


def fields_path(live: dict[str, Any], path: Path, kind: str) -> tuple[str, ...]:
    """The FieldsV1 segments naming the same place as a live path (list indexes become keys)."""
    segments: list[str] = []
    node: Any = live
    parent: Any = None
    owner: str | None = None
    field: Any = None
    for segment in path:
        if isinstance(node, dict):
            segments.append(f"f:{segment}")
            parent, field = field, segment
            node = node.get(segment) if isinstance(segment, str) else None
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            spec = merge_keys.spec_for(str(field), owner, parent, kind)
            item = node[segment]
            item_key = spec.key(item) if spec.mode == merge_keys.KEYED else None
            if item_key is not None:
                segments.append(f"k:{item_key}")
            elif spec.mode == merge_keys.SET:
                segments.append(f"v:{merge_keys.canonical(item)}")
            else:
                break  # an atomic list is owned as a whole
            owner, parent, field = str(field), None, None
            node = item
        else:
            break
    return tuple(segments)


def owns(trie: dict[str, Any], segments: Iterable[str]) -> bool:
    """Whether a FieldsV1 trie covers the place: the node itself, or a whole-owned ancestor."""
    node = trie
    for segment in segments:
        child = node.get(segment)
        if child is None:
            return False
        if not child or set(child) == {"."}:
            return True
        node = child
    return True


def leaves(trie: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every place a FieldsV1 trie owns outright (leaves, and items owned as a whole)."""
    found: set[tuple[str, ...]] = set()
    for segment, child in trie.items():
        if segment == ".":
            continue
        here = (*prefix, segment)
        if not child or set(child) == {"."}:
            found.add(here)
        else:
            found |= leaves(child, here)
    return found


def readable(segments: Iterable[str]) -> str:
    """A FieldsV1 place for people: /spec/template/spec/containers[name=web]/image."""
    text = ""
    for segment in segments:
        prefix, raw = segment[:2], segment[2:]
        if prefix == "f:":
            text += "/" + raw
        elif prefix == "k:":
            try:
                keys = json.loads(raw)
                text += "[" + ",".join(f"{k}={v}" for k, v in keys.items()) + "]"
            except ValueError:
                text += f"[{raw}]"
        else:
            text += f"[{raw}]"
    return text


def value_at(obj: Any, segments: Iterable[str]) -> Any:
    """The value at a FieldsV1 place in a manifest (keyed items matched by their key)."""
    node = obj
    for segment in segments:
        prefix, raw = segment[:2], segment[2:]
        if prefix == "f:" and isinstance(node, dict):
            node = node.get(raw)
        elif prefix == "k:" and isinstance(node, list):
            wanted = json.loads(raw)
            node = next(
                (
                    item
                    for item in node
                    if isinstance(item, dict)
                    and all(
                        item.get(k, "TCP" if k == "protocol" else None) == v
                        for k, v in wanted.items()
                    )
                ),
                None,
            )
        elif prefix == "v:" and isinstance(node, list):
            value = json.loads(raw)
            node = value if value in node else None
        else:
            return None
        if node is None:
            return None
    return node


def owned_not_declared(
    trie: dict[str, Any],
    body: dict[str, Any],
    live: dict[str, Any],
    kind: str,
    op: str,
    ignore: PatternSet | None,
) -> list[Difference]:
    """Fields the manager owns, live still has, and the desired body does not declare."""
    walk = _OwnedWalk(kind, op, ignore)
    walk.mapping(trie, body, live, (), None, None, top=True)
    return walk.found


class _OwnedWalk:
    def __init__(self, kind: str, op: str, ignore: PatternSet | None) -> None:
        self.kind, self.op, self.ignore = kind, op, ignore
        self.found: list[Difference] = []

    def report(self, path: Path, live: Any) -> None:
        if self.ignore is None or not self.ignore.matches(path):
            self.found.append(Difference(path, self.op, None, live))

    def mapping(
        self,
        trie: dict[str, Any],
        desired: Any,
        live: dict[str, Any],
        path: Path,
        parent: str | None,
        owner: str | None,
        top: bool = False,
        in_metadata: bool = False,
    ) -> None:
        for segment, child in trie.items():
            if not segment.startswith("f:"):
                continue
            if top and segment == "f:status":
                continue
            if in_metadata and segment not in _METADATA_DECLARED:
                continue
            if segment in _SKIPPED_ANNOTATIONS or _tracking(segment[2:], path):
                continue
            name = segment[2:]
            have = live.get(name)
            if is_empty(have):
                continue
            want = desired.get(name) if isinstance(desired, dict) else None
            here = (*path, name)
            if top and name == "metadata":
                if isinstance(have, dict):
                    self.mapping(child, want, have, here, name, owner, in_metadata=True)
                continue
            # A map the manager owns keys of is reported key by key (others may own the
            # rest); a leaf, an atomic list, or a map it owns only as a whole, at once.
            whole = (
                not child
                or set(child) == {"."}
                or not isinstance(have, dict | list)
                or (isinstance(have, list) and "." in child)
            )
            if want is None and whole:
                self.report(here, have)
            elif isinstance(have, dict) and child:
                self.mapping(child, want, have, here, name, owner)
            elif isinstance(have, list) and child:
                self.sequence(child, want, have, here, name, parent, owner)

    def sequence(
        self,
        trie: dict[str, Any],
        desired: Any,
        live: list[Any],
        path: Path,
        field: str,
        parent: str | None,
        owner: str | None,
    ) -> None:
        spec = merge_keys.spec_for(field, owner, parent, self.kind)
        want_items = desired if isinstance(desired, list) else []
        if spec.mode == merge_keys.KEYED:
            live_index = {spec.identity(item): i for i, item in enumerate(live)}
            wanted = {spec.identity(item): item for item in want_items}
            for segment, child in trie.items():
                if not segment.startswith("k:"):
                    continue
                key = spec.identity_of_key(segment[2:])
                position = live_index.get(key)
                if position is None:
                    continue
                item = live[position]
                if key not in wanted and (not child or "." in child):
                    self.report((*path, position), item)
                elif isinstance(item, dict):
                    # A key field the item leaves to its default is declared all the same.
                    want = spec.with_defaults(wanted.get(key))
                    self.mapping(child, want, item, (*path, position), None, field)
        elif spec.mode == merge_keys.SET:
            for segment in trie:
                if segment.startswith("v:"):
                    value = json.loads(segment[2:])
                    if value in live and value not in want_items:
                        self.report((*path, live.index(value)), value)


def three_way_removed(
    last_applied: dict[str, Any],
    body: dict[str, Any],
    live: dict[str, Any],
    kind: str,
    ignore: PatternSet | None,
) -> list[Difference]:
    """Removals from kubectl's last-applied annotation: what was applied last time, Git no
    longer declares, and live still has (the three-way comparison of `kubectl apply`)."""
    walk = _ThreeWay(kind, ignore)
    walk.mapping(last_applied, body, live, (), None, None, top=True)
    return walk.found


class _ThreeWay(_OwnedWalk):
    def __init__(self, kind: str, ignore: PatternSet | None) -> None:
        super().__init__(kind, REMOVED, ignore)

    def mapping(
        self,
        last: Any,
        desired: Any,
        live: dict[str, Any],
        path: Path,
        parent: str | None,
        owner: str | None,
        top: bool = False,
        in_metadata: bool = False,
    ) -> None:
        if not isinstance(last, dict):
            return
        for name, applied in last.items():
            if in_metadata and name not in ("labels", "annotations"):
                continue
            if name == LAST_APPLIED or _tracking(name, path):
                continue
            have = live.get(name)
            if is_empty(have) or is_empty(applied):
                continue
            want = desired.get(name) if isinstance(desired, dict) else None
            here = (*path, name)
            if top and name == "metadata":
                if isinstance(have, dict):
                    self.mapping(applied, want, have, here, name, owner, in_metadata=True)
            elif want is None and not (isinstance(applied, dict) and isinstance(have, dict)):
                self.report(here, have)
            elif isinstance(applied, dict) and isinstance(have, dict):
                # Descend even when Git dropped the whole map: live may hold keys that
                # others added, and only what was applied is a removal.
                self.mapping(applied, want, have, here, name, owner)
            elif isinstance(applied, list) and isinstance(have, list):
                self.sequence(applied, want, have, here, name, parent, owner)

    def sequence(
        self,
        last: Any,
        desired: Any,
        live: list[Any],
        path: Path,
        field: str,
        parent: str | None,
        owner: str | None,
    ) -> None:
        spec = merge_keys.spec_for(field, owner, parent, self.kind)
        want_items = desired if isinstance(desired, list) else []
        if spec.mode == merge_keys.KEYED:
            live_index = {spec.identity(item): i for i, item in enumerate(live)}
            wanted = {spec.identity(item): item for item in want_items}
            for applied in last:
                key = spec.identity(applied)
                position = live_index.get(key)
                if key is None or position is None:
                    continue
                if key not in wanted:
                    self.report((*path, position), live[position])
                elif isinstance(live[position], dict):
                    # A key field Git now leaves to its default (`protocol: TCP`) is still
                    # declared: re-applying puts the same value back.
                    want = spec.with_defaults(wanted[key])
                    self.mapping(applied, want, live[position], (*path, position), None, field)
        elif spec.mode == merge_keys.SET:
            for value in last:
                if value in live and value not in want_items:
                    self.report((*path, live.index(value)), value)


def attribution(owners: list[ManagedEntry]) -> list[dict[str, str]]:
    return [entry.describe() for entry in sorted(owners, key=lambda e: e.time, reverse=True)]
