"""Who writes a lane's objects: only its deployers (and the identities trusted everywhere).

The writes come from the API server's audit feed (the user, not just the field manager),
so a `kubectl scale` or a remove-only patch, which managedFields cannot show, is seen too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from alignment.rules.base import Evidence, LaneSpec, Objects, Reach, Violation, Write, rule

# managedFields times have whole seconds; the audit's are exact: this close, the same write.
SAME_WRITE = timedelta(seconds=1)
# Field managers of the control plane: they update status in the same second as a user's
# write (before 1.22, managedFields do not say which subresource an entry is for).
CONTROLLERS = frozenset({"kube-controller-manager", "kube-scheduler", "kubelet"})


@rule(
    "lane.deployer",
    "high",
    "Only a lane's deployers change its objects",
    """Someone who is not one of the lane's deployers (its identities) changed this object
    by hand: drift made outside the lane's delivery path, by the user the API server's
    audit feed names. Find out why with them; put the change in Git (or revert it with a
    sync) so that the lane's deployer applies it. The finding resolves when one of the
    lane's deployers, or DriftControl, writes the object again.""",
    local=True,
)
def deployer(objects: Objects, reach: Reach) -> Iterator[Violation]:
    writes = reach.circumstances.writes
    for key, obj in objects.items():
        found = writes.get(key)
        lanes = reach.lanes_of(key.namespace) if found and key.namespace else []
        if not found or len(lanes) != 1 or not lanes[0].identities:
            continue
        lane = lanes[0]
        outside = _since_last_deployer(found, lane, reach.circumstances.trusted)
        if not outside:
            continue
        last = outside[-1]
        yield Violation(
            "lane.deployer",
            key,
            str(obj.get("apiVersion", "")),
            f"{key} in lane {lane.name} was changed by {describe(last, obj)}, who is not one "
            "of the lane's deployers",
            tuple(Evidence(key, "", describe(w, obj)) for w in reversed(outside[-5:])),
        )


def describe(write: Write, obj: Mapping[str, Any]) -> str:
    """`alice (patch through kubectl-edit, 2026-12-01 10:15:02 UTC, audit feed)`."""
    how = write.verb + (f" of {write.subresource}" if write.subresource else "")
    manager = manager_at(obj, write.at)
    via = f" through {manager}" if manager else ""
    when = write.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    source = "audit feed" if write.source == "audit" else write.source
    return f"{write.user} ({how}{via}, {when}, {source})"


def manager_at(obj: Mapping[str, Any], at: datetime) -> str:
    """The field manager whose managedFields entry was written with this write, if any:
    the closest in time, never a controller's status update of the same second."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    near: list[tuple[timedelta, str]] = []
    for entry in entries:
        manager = str((entry or {}).get("manager", ""))
        stamped = _parse_time(str((entry or {}).get("time", "")))
        if entry.get("subresource") == "status" or manager in CONTROLLERS or stamped is None:
            continue
        if abs(stamped - at) <= SAME_WRITE:
            near.append((abs(stamped - at), manager))
    return min(near)[1] if near else ""


def _since_last_deployer(
    writes: tuple[Write, ...], lane: LaneSpec, trusted: tuple[str, ...]
) -> list[Write]:
    """The writes by others since the lane's deployers (or a trusted identity) last wrote:
    what of the object now comes from outside the lane. Deletions leave nothing behind."""
    outside: list[Write] = []
    for write in writes:
        if _allowed(write, lane.identities) or _allowed(write, trusted):
            outside = []
        elif write.verb != "delete":
            outside.append(write)
    return outside


def _allowed(write: Write, identities: tuple[str, ...]) -> bool:
    return identified(write.user, write.groups, identities)


def identified(user: str, groups: Iterable[str], identities: tuple[str, ...]) -> bool:
    """Whether the user, or one of their groups, is one of the identities (globs): how a
    lane's deployers are told from others, here and at admission."""
    names = (user, *groups)
    return any(fnmatchcase(name, glob) for name in names for glob in identities)


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
