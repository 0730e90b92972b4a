"""What alignment adds to the drift findings the watcher and the scans record: a change
admitted while the admission webhook was installed but not answering says so.

The webhook fails open, so such a change went through unjudged; the drift it made is
found all the same, and its field manager's entry in the finding's attribution gets an
`admission` sentence (and `admission_user`, the user the audit feed saw write the object
then, when it did). drift.services finds this module by name (driftcontrol.extensions):
detection does not import the rooms built on it.

It runs before every recording of the watcher's observations, so it must cost nothing
when there is nothing to say: a cluster that never had the webhook is known as such for
a few seconds per process, without a query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime

from alignment import audit_feed, lane_labels
from alignment.admission import availability
from alignment.models import AdmissionInstallation, KubeWrite
from alignment.rules import LaneSpec
from drift.engine import admission_terms
from drift.engine.normalize import ObjectKey
from drift.models import Cluster
from drift.services.ledger import Observation

# How long one process trusts what it read of a cluster's installations and lanes.
CACHE_SECONDS = 5.0
# An audit event's time and a managedFields time (whole seconds) of the same write.
NEAR = timedelta(seconds=2)
WRITE_VERBS = ("create", "update", "patch")

_cache: dict[int, tuple[float, tuple[LaneSpec, ...]]] = {}
_cache_lock = threading.Lock()


def annotate(cluster: Cluster | None, observations: Sequence[Observation]) -> None:
    """Add to each attribution entry made while the webhook was installed and no server
    answered, on an object of a lane whose admission mode is not off, the sentence saying
    so (in place)."""
    if cluster is None or not cluster.pk:
        return
    entries = list(_timed_entries(observations))
    if not entries:
        return
    lanes = _judging_lanes(cluster)
    if not lanes:
        return
    judged = [(key, entry, at) for key, entry, at in entries if _judged(key, lanes)]
    if not judged:
        return
    moments = [at for _, _, at in judged]
    timeline = availability.timeline(cluster, min(moments), max(moments))
    for key, entry, at in judged:
        gap = timeline.gap(at)
        if gap is None:
            continue
        user = _writer(cluster, key, at)
        said = f"admitted while the admission webhook was unavailable ({gap.detail})"
        entry["admission"] = f"{said}; the audit feed names {user}" if user else said
        if user:
            entry["admission_user"] = user


def forget() -> None:
    """Drop what this process remembers of clusters (tests; a fresh install shows at once
    otherwise only after CACHE_SECONDS)."""
    with _cache_lock:
        _cache.clear()


def _timed_entries(
    observations: Iterable[Observation],
) -> Iterable[tuple[ObjectKey, dict[str, Any], datetime]]:
    for observation in observations:
        for entry in observation.attribution:
            at = parse_datetime(entry.get("time") or "") if isinstance(entry, dict) else None
            if at is not None:
                yield observation.key, entry, at


def _judging_lanes(cluster: Cluster) -> tuple[LaneSpec, ...]:
    """The cluster's lanes (all of them: two owners of a namespace leave it unjudged);
    none when the webhook was never installed on the cluster or no lane's admission mode
    is other than off (remembered for CACHE_SECONDS)."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(cluster.pk)
    if cached is not None and cached[0] > now:
        return cached[1]
    lanes: tuple[LaneSpec, ...] = ()
    if AdmissionInstallation.objects.filter(cluster=cluster).exists():
        lanes = lane_labels.lanes_of(cluster)
        if all(admission_terms.mode(lane.admission) == "off" for lane in lanes):
            lanes = ()
    with _cache_lock:
        _cache[cluster.pk] = (now + CACHE_SECONDS, lanes)
    return lanes


def _judged(key: ObjectKey, lanes: tuple[LaneSpec, ...]) -> bool:
    """Whether the webhook judges the object's changes: one lane owns its namespace (as
    the webhook decides it), in a mode other than off."""
    namespace = key.name if (key.group, key.kind) == ("", "Namespace") else key.namespace
    if not namespace or namespace in lane_labels.never_matched():
        return False
    owners = [lane for lane in lanes if lane.owns(namespace)]
    return len(owners) == 1 and admission_terms.mode(owners[0].admission) != "off"


def _writer(cluster: Cluster, key: ObjectKey, at: datetime) -> str:
    """The user the audit feed saw write the object nearest ``at`` (within NEAR)."""
    if not cluster.audit_token_digest:
        return ""
    writes = KubeWrite.objects.filter(
        cluster=cluster,
        api_group=key.group,
        resource=audit_feed.guess_plural(key.kind),
        namespace=key.namespace,
        name=key.name,
        verb__in=WRITE_VERBS,
        at__gte=at - NEAR,
        at__lte=at + NEAR,
    ).values_list("user", "at")
    nearest = min(writes, key=lambda write: abs(write[1] - at), default=None)
    return nearest[0] if nearest is not None else ""
