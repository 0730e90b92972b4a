"""Every cluster's World (alignment.admission.decide), built from the database and held in
memory by `drift admission serve`, so that no decision waits for a query.

Every ADMISSION_REFRESH_SECONDS a few aggregate queries (counts and highest ids or times
of what a world is built from) say whether anything changed, and only the clusters it
changed for are rebuilt: a steady fleet costs those queries and nothing more. Verdicts
also age without a row changing (supply_chain.usable), so a world older than
REBUILT_AFTER is rebuilt anyway. A rebuilt world replaces the old one in one assignment:
a request sees the old world or the new one, never half of each. When the database
cannot be read, the worlds held stay (the webhook fails open, it never stops).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Count, Max, QuerySet

from alignment import audit_feed, rules, scanning
from alignment.admission.decide import Managed, World
from alignment.admission.images import Images
from alignment.models import AdmissionInstallation, ImageUse, ImageVerification, ManagedObject
from alignment.rules.supply import requires_evidence
from drift.engine import admission_terms
from drift.engine.normalize import ObjectKey
from drift.engine.rules import selector_matches
from drift.models import Cluster, DriftPolicy, Lane

log = logging.getLogger(__name__)

# Seconds after which a world is rebuilt though nothing it was built from changed: an
# unsettled verdict stops counting SUPPLY_RECHECK_SECONDS after it was stored.
REBUILT_AFTER = 300.0

Stamp = tuple[Any, ...]


def build(cluster: Cluster) -> World:
    """What decisions on ``cluster`` know, read from the database now: its lanes (capped
    at warn when it is installed in warn mode), every lane, the objects Git manages on
    it, the identities trusted everywhere, and the stored verdicts on its lanes' images."""
    trusted = audit_feed.trusted_identities()
    lanes, every_lane = scanning.lanes_of(cluster)
    if not lanes:
        return World(trusted=trusted)  # no lane: nothing is judged there
    if _installed_mode(cluster) == "warn":
        lanes, every_lane = _capped(lanes), _capped(every_lane)
    seen = (
        ImageUse.objects.filter(cluster=cluster)
        .exclude(lane="")
        .order_by()
        .values_list("lane", "image", "digest")
        .distinct()
    )
    return World(
        lanes=lanes,
        every_lane=every_lane,
        managed=MappingProxyType(_managed(cluster)),
        trusted=trusted,
        images=Images(lanes, seen),
    )


def _installed_mode(cluster: Cluster) -> str:
    """The mode the cluster's current installation caps its lanes at ("" if none)."""
    current = AdmissionInstallation.objects.filter(cluster=cluster, removed_at__isnull=True)
    return current.order_by("-installed_at", "-id").values_list("mode", flat=True).first() or ""


def _capped(lanes: Iterable[rules.LaneSpec]) -> tuple[rules.LaneSpec, ...]:
    """The lanes with deny turned into warn: the installation's mode is the most any lane
    of the cluster may do (a first installation warns before anyone is refused)."""
    return tuple(
        replace(lane, admission={**lane.admission, "mode": "warn"})
        if admission_terms.mode(lane.admission) == "deny"
        else lane
        for lane in lanes
    )


def _managed(cluster: Cluster) -> dict[ObjectKey, Managed]:
    """The objects Git manages on the cluster, by the policies targeting it now (a policy
    that stopped targeting it manages nothing there any more). When two policies declare
    one object, the older policy's row speaks."""
    policies = DriftPolicy.objects.only("pk", "cluster_names", "cluster_selector")
    targeting = [policy.pk for policy in policies if _targets(policy, cluster)]
    rows = ManagedObject.objects.filter(cluster=cluster, policy_id__in=targeting)
    found: dict[ObjectKey, Managed] = {}
    places: dict[tuple[str, str, str], Managed] = {}  # one object per file, not per row
    for group, kind, namespace, name, *place in rows.order_by("policy_id").values_list(
        "api_group", "kind", "namespace", "name", "source", "revision", "path"
    ):
        key = ObjectKey(group, kind, namespace, name)
        if key not in found:
            source, revision, path = place
            managed = places.setdefault((source, revision, path), Managed(source, revision, path))
            found[key] = managed
    return found


def _targets(policy: DriftPolicy, cluster: Cluster) -> bool:
    """Whether the policy targets the cluster, by name or by labels (as scans choose
    them, but for a disabled cluster too: the webhook may still be installed there)."""
    selector = policy.cluster_selector
    return cluster.name in policy.cluster_names or bool(
        selector and selector_matches(selector, cluster.labels)
    )


class Worlds:
    """Every cluster's World, held in memory and rebuilt in a background thread when
    the database says something changed (checked every ADMISSION_REFRESH_SECONDS)."""

    def __init__(self, refresh_seconds: float | None = None) -> None:
        self.every = refresh_seconds or settings.ADMISSION_REFRESH_SECONDS
        self._worlds: Mapping[str, World] = MappingProxyType({})  # what requests read
        self._by_id: dict[int, World] = {}
        self._stamps: dict[int, Stamp] = {}  # what each cluster's world was built at
        self._built: dict[int, float] = {}  # when (time.monotonic)
        self._common: Stamp | None = None  # what every world depends on
        self._ready = False
        self._lock = threading.Lock()  # one refresh at a time
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Build every world now if the database answers, then keep them fresh."""
        self.refresh()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="admission-worlds", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=max(10.0, self.every * 2))
            self._thread = None

    def get(self, cluster: str) -> World | None:
        """The cluster's world; None for a cluster nobody registered (allowed)."""
        return self._worlds.get(cluster)

    @property
    def ready(self) -> bool:
        """Whether every world was built at least once."""
        return self._ready

    def refresh(self) -> bool:
        """Check for changes and rebuild what they touch; True when a world was rebuilt
        (or a cluster went). A database error keeps the worlds held, and says so."""
        with self._lock:
            try:
                return self._refresh()
            except DatabaseError as error:
                log.warning(
                    "admission: the database could not be read (%s); keeping the worlds held", error
                )
                return False

    def _refresh(self) -> bool:
        common, clusters = _stamps()
        now = time.monotonic()
        due = [
            pk
            for pk, stamp in clusters.items()
            if common != self._common
            or self._stamps.get(pk) != stamp
            or now - self._built.get(pk, now - REBUILT_AFTER - 1) > REBUILT_AFTER
        ]
        gone = set(self._by_id) - set(clusters)
        if not due and not gone and self._ready:
            return False
        by_id = {pk: world for pk, world in self._by_id.items() if pk in clusters}
        for cluster in Cluster.objects.filter(pk__in=due):
            try:
                by_id[cluster.pk] = build(cluster)
            except DatabaseError:
                raise
            except Exception:  # a bug must not take the other clusters' worlds down
                log.exception(
                    "admission: building the world of cluster %s failed; its last one stays",
                    cluster.name,
                )
            self._stamps[cluster.pk], self._built[cluster.pk] = clusters[cluster.pk], now
        names = {pk: stamp[0] for pk, stamp in clusters.items()}
        self._by_id = by_id
        self._worlds = MappingProxyType({names[pk]: world for pk, world in by_id.items()})
        for pk in gone:
            self._stamps.pop(pk, None)
            self._built.pop(pk, None)
        self._common, self._ready = common, True
        return bool(due or gone)

    def _run(self) -> None:
        while not self._stopping.wait(self.every):
            close_old_connections()  # a connection the database dropped is replaced
            try:
                self.refresh()
            except Exception:
                log.exception("admission: refreshing the worlds failed; the worlds held stay")
        connection.close()


def _stamps() -> tuple[Stamp, dict[int, Stamp]]:
    """What the worlds are built from, summed up: what every world depends on, and each
    cluster's own (its name first). Rows are only inserted and deleted where no time
    says they changed (ManagedObject, ImageUse), so a count and a highest id tell. A new
    verdict concerns only the clusters with a lane that wants evidence of its images."""
    lanes = {
        pk: (at, supply)
        for pk, at, supply in Lane.objects.values_list("pk", "updated_at", "supply")
    }
    common = (
        sorted((pk, at) for pk, (at, _) in lanes.items()),  # every lane is in every world
        _totals(DriftPolicy.objects.all(), Max("updated_at")),
    )
    signing = {pk for pk, (_, supply) in lanes.items() if _wants_evidence(supply)}
    verdicts = _totals(ImageVerification.objects.all(), Max("verified_at"))
    parts: dict[int, dict[str, Any]] = {
        pk: {"cluster": (name, updated, labels), "lanes": []}
        for pk, name, updated, labels in Cluster.objects.values_list(
            "pk", "name", "updated_at", "labels"
        )
    }
    memberships = Cluster.lanes.through.objects.order_by("cluster_id", "lane_id")
    for cluster_id, lane_id in memberships.values_list("cluster_id", "lane_id"):
        if cluster_id in parts:
            parts[cluster_id]["lanes"].append(lane_id)
            if lane_id in signing:
                parts[cluster_id]["verdicts"] = verdicts
    for part, model in (("managed", ManagedObject), ("uses", ImageUse)):
        per_cluster = model.objects.order_by().values("cluster_id")
        grouped = per_cluster.annotate(n=Count("pk"), last=Max("pk"))
        for cluster_id, n, last in grouped.values_list("cluster_id", "n", "last"):
            if cluster_id in parts:
                parts[cluster_id][part] = (n, last)
    installed = AdmissionInstallation.objects.filter(removed_at__isnull=True)
    for cluster_id, pk, mode in installed.values_list("cluster_id", "pk", "mode"):
        if cluster_id in parts:
            parts[cluster_id].setdefault("installed", []).append((pk, mode))
    return common, {
        pk: (found["cluster"][0], *sorted(found.items(), key=lambda part: part[0]))
        for pk, found in parts.items()
    }


def _wants_evidence(supply: Any) -> bool:
    return isinstance(supply, dict) and requires_evidence(rules.LaneSpec("", supply=supply))


def _totals(rows: QuerySet[Any], *more: Any) -> Stamp:
    found = rows.order_by().aggregate(Count("pk"), Max("pk"), *more)
    return tuple(found.values())
