"""Compare one desired object with its live counterpart: differences, removals, undeclared
fields, who made them, how severe they are, and the patch that would undo them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from drift.engine import fields
from drift.engine.diff import CHANGED, MISSING, REMOVED, UNDECLARED, Difference, compare_body
from drift.engine.normalize import (
    LAST_APPLIED,
    DesiredObject,
    ObjectKey,
    SecretHasher,
    desired_body,
    live_view,
)
from drift.engine.patch import json_patch
from drift.engine.paths import MATCHED, pointer
from drift.engine.policy import EnginePolicy
from drift.engine.severity import LEVELS, rank


@dataclass
class FieldDrift:
    """One drifted path, ready to show and store."""

    path: str
    op: str
    desired: Any
    live: Any
    severity: str
    managers: list[dict[str, str]]
    inferred: bool = False  # attribution guessed (nobody owns a removed field any more)
    missing_items: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "path": self.path,
            "op": self.op,
            "desired": self.desired,
            "live": self.live,
            "severity": self.severity,
            "managers": self.managers,
        }
        if self.inferred:
            data["inferred"] = True
        if self.missing_items:
            data["missingItems"] = self.missing_items
        return data


@dataclass
class ObjectDrift:
    """Everything found on one object."""

    key: ObjectKey
    api_version: str
    fields: list[FieldDrift]
    patch: list[dict[str, Any]]

    @property
    def severity(self) -> str:
        return max((f.severity for f in self.fields), key=rank, default=LEVELS[0])

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.fields]

    @property
    def attribution(self) -> list[dict[str, str]]:
        """Distinct managers behind the drift, most recent first."""
        seen: dict[tuple[str, str], dict[str, str]] = {}
        for drift in self.fields:
            for manager in drift.managers:
                seen.setdefault((manager["manager"], manager["operation"]), manager)
        return sorted(seen.values(), key=lambda m: m.get("time", ""), reverse=True)

    @property
    def drift_started_at(self) -> str | None:
        """When the change was made, as far as managedFields tell (for MTTD)."""
        times = [
            m["time"]
            for f in self.fields
            if not f.inferred
            for m in f.managers[:1]
            if m.get("time")
        ]
        return max(times) if times else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "paths": self.paths,
            "fields": [f.as_dict() for f in self.fields],
            "patch": self.patch,
        }


def prepare(
    manifest: dict[str, Any], source: str, hasher: SecretHasher, key: ObjectKey
) -> DesiredObject:
    return DesiredObject(
        key, str(manifest.get("apiVersion", "")), desired_body(manifest, hasher), source, manifest
    )


def compare(
    desired: DesiredObject,
    live: dict[str, Any],
    policy: EnginePolicy,
    hasher: SecretHasher,
    extra_ignores: Sequence[str] = (),
) -> ObjectDrift | None:
    """The drift of one object, or None when live matches what Git declares."""
    key = desired.key
    if policy.ignored_object(key):
        return None
    ignore = policy.ignore_for(key, extra_ignores)
    states = ignore.start() if ignore is not None else None
    if states is MATCHED:
        return None
    view = live_view(live, hasher)
    differences = compare_body(desired.body, view, key.kind, states or None)
    managed = fields.entries(live)
    last_applied = _last_applied(live)
    differences += _removed(desired, view, last_applied, managed, ignore)
    if policy.report_undeclared:
        differences += _undeclared(desired, view, managed, policy, ignore)
    if not differences:
        return None
    differences = _deduplicated(differences)
    appliers = (
        frozenset(e.manager for e in managed if e.operation == "Apply") | policy.gitops_managers
    )
    drifted = [
        _describe(d, key, view, managed, last_applied, appliers, policy.trusted_managers)
        for d in differences
    ]
    for drift, difference in zip(drifted, differences, strict=True):
        drift.severity = policy.level(key, difference.path, undeclared=drift.op == UNDECLARED)
    return ObjectDrift(
        key, desired.api_version, drifted, json_patch(differences, key.kind == "Secret")
    )


def _removed(
    desired: DesiredObject,
    view: dict[str, Any],
    last_applied: dict[str, Any] | None,
    managed: list[fields.ManagedEntry],
    ignore: Any,
) -> list[Difference]:
    """Fields the last applier set that Git no longer declares but live still has.

    Server-side appliers (operation Apply) own exactly what they applied, so their FieldsV1
    answers it. A client-side `kubectl apply` is an Update that, on create, owns every
    defaulted field too; for it the last-applied annotation is the honest record.
    """
    found: list[Difference] = []
    for entry in managed:
        if entry.operation == "Apply":
            found += fields.owned_not_declared(
                entry.fields, desired.body, view, desired.key.kind, REMOVED, ignore
            )
    if last_applied is not None:
        found += fields.three_way_removed(
            last_applied, desired.body, view, desired.key.kind, ignore
        )
    return found


def _last_applied(live: dict[str, Any]) -> dict[str, Any] | None:
    annotation = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not annotation:
        return None
    try:
        last = json.loads(annotation)
    except ValueError:
        return None
    if not isinstance(last, dict):
        return None
    return {k: v for k, v in last.items() if k not in ("apiVersion", "kind", "status")}


def _undeclared(
    desired: DesiredObject,
    view: dict[str, Any],
    managed: list[fields.ManagedEntry],
    policy: EnginePolicy,
    ignore: Any,
) -> list[Difference]:
    """Fields added live by managers that are neither trusted nor appliers of Git."""
    found: list[Difference] = []
    for entry in managed:
        if (
            entry.operation == "Apply"
            or entry.manager in policy.gitops_managers
            or entry.manager in policy.trusted_managers
        ):
            continue
        found += fields.owned_not_declared(
            entry.fields, desired.body, view, desired.key.kind, UNDECLARED, ignore
        )
    return found


def _deduplicated(differences: list[Difference]) -> list[Difference]:
    """One difference per path; a changed value outranks the same path seen as removed."""
    order = {CHANGED: 0, MISSING: 0, REMOVED: 1, UNDECLARED: 2}
    best: dict[tuple[Any, ...], Difference] = {}
    for difference in differences:
        kept = best.get(difference.path)
        if kept is None or order[difference.op] < order[kept.op]:
            best[difference.path] = difference
    return sorted(best.values(), key=lambda d: [str(s) for s in d.path])


def _describe(
    difference: Difference,
    key: ObjectKey,
    view: dict[str, Any],
    managed: list[fields.ManagedEntry],
    last_applied: dict[str, Any] | None,
    appliers: frozenset[str],
    trusted: frozenset[str],
) -> FieldDrift:
    segments = fields.fields_path(view, difference.path, key.kind)
    owners: list[fields.ManagedEntry] = []
    if difference.op != MISSING and not difference.missing_items:
        owners = [e for e in managed if fields.owns(e.fields, segments)]
    if (
        difference.op == CHANGED
        and owners
        and all(e.manager in appliers for e in owners)
        and last_applied is not None
        and fields.value_at(last_applied, segments) != difference.live
    ):
        # The applier still owns a value it did not write: the change went through a path
        # managedFields does not record (in Kubernetes 1.20, the scale subresource).
        owners = []
    inferred = False
    if not owners:
        # Nobody owns what changed (a removed field, an untracked change): the last person
        # or tool that updated the object is the best guess; controllers are not.
        updates = [
            e
            for e in managed
            if e.operation == "Update"
            and not e.subresource
            and e.manager not in trusted
            and e.manager not in appliers
        ]
        if updates:
            owners, inferred = [max(updates, key=lambda e: e.time)], True
    return FieldDrift(
        pointer(difference.path),
        difference.op,
        difference.desired,
        difference.live,
        LEVELS[0],
        fields.attribution(owners),
        inferred,
        list(difference.missing_items),
    )
