"""What a finding keeps of a drift too large to store whole: a cut view and a digest.

A 50 MB manifest once made a 100 MB finding, a finding page of 106 MB that took 35 s to
render, and an API answer as large. Beyond a limit, a finding keeps the first part of every
value, the full size, and the SHA-256 of the full drift as canonical JSON, so the stored
view can be matched with the drift a later scan sees. A mapping shares its room fairly
among its entries (the live side is not starved by the desired side); a list keeps its
first items whole. The patch is not kept at all: a cut one would be a wrong one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Nested deeper than this, a value is replaced by a note (no Kubernetes object nests so).
_DEPTH = 100
# Room a note of what was left out takes ("…": "123 more entries not stored").
_NOTE = 48
CUT = "…"
# The least room a mapping's entry gets while there is room: a ConfigMap with 50,000 keys
# shows its first keys with their values, not 50,000 cut ones.
_CRUMB = 1024


def canonical(value: Any) -> bytes:
    """The value as compact JSON with sorted keys: what a finding's size and digest
    measure."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except TypeError:
        # YAML allows keys that are not text (`1: a`); JSON (and the database) makes them
        # text, after which they sort.
        return canonical(json.loads(json.dumps(value)))
    return text.encode()


def bounded(diff: dict[str, Any], limit: int) -> dict[str, Any]:
    """The diff itself when its canonical JSON fits in limit bytes, else a view that does,
    with ``truncated``: the full size in bytes, its SHA-256 and the limit."""
    full = canonical(diff)
    if len(full) <= limit:
        return diff
    truncated = {"bytes": len(full), "sha256": hashlib.sha256(full).hexdigest(), "limit": limit}
    rest = {key: value for key, value in diff.items() if key != "patch"}
    room = limit - len(canonical({"patch": [], "truncated": truncated})) - _NOTE
    while True:
        view: dict[str, Any] = _cut(rest, max(room, 0), 0)[0]
        view.update(patch=[], truncated=dict(truncated))
        _count_fields(view, diff)
        # Room is counted in characters; multi-byte text may take more bytes than that.
        if len(canonical(view)) <= limit or room <= 0:
            return view
        room //= 2


def _count_fields(view: dict[str, Any], diff: dict[str, Any]) -> None:
    """A drifted field left out is counted, not noted in the list: pages read every entry
    of ``fields`` as a field."""
    fields = view.get("fields")
    if not isinstance(fields, list) or not isinstance(diff.get("fields"), list):
        return
    kept = [field for field in fields if isinstance(field, dict)]
    if len(kept) < len(diff["fields"]):
        view["fields"] = kept
        view["truncated"].update(fieldsStored=len(kept), fields=len(diff["fields"]))


def _cut(value: Any, room: int, depth: int) -> tuple[Any, int]:
    """The value within about room characters of JSON, and what it takes."""
    if isinstance(value, dict):
        return _cut_entries(list(value.items()), room, depth, {})
    if isinstance(value, list):
        return _cut_entries(list(enumerate(value)), room, depth, [])
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= room:
        return value, len(text)
    if not isinstance(value, str):
        return CUT, 3
    note = f" {CUT} (cut: {len(value):,} characters in all)"
    if room < len(note) + 16:
        return CUT, 3
    kept = value[: room - len(note) - 2] + note
    return kept, len(json.dumps(kept, ensure_ascii=False))


def _cut_entries(
    entries: list[tuple[Any, Any]], room: int, depth: int, into: dict[str, Any] | list[Any]
) -> tuple[Any, int]:
    if depth >= _DEPTH and entries:
        return f"{CUT} nested deeper than {_DEPTH} levels, not stored", _NOTE
    used = 2
    for index, (key, child) in enumerate(entries):
        key_cost = len(json.dumps(key, ensure_ascii=False)) + 2 if isinstance(into, dict) else 1
        # A mapping shares its room fairly (the live side is not starved by the desired
        # side), but not in crumbs too small to read; a list keeps its first items whole
        # (the first paths, the first field).
        left = room - used - _NOTE
        fair = max(left // (len(entries) - index), min(left, _CRUMB))
        share = fair if isinstance(into, dict) else left
        if share < key_cost + 3:
            note = f"{len(entries) - index:,} more entries not stored"
            if isinstance(into, dict):
                into[CUT] = note
            else:
                into.append(f"{CUT} {note}")
            return into, used + _NOTE
        part, cost = _cut(child, share - key_cost, depth + 1)
        if isinstance(into, dict):
            into[key] = part
        else:
            into.append(part)
        used += key_cost + cost
    return into, used
