"""Scans: compare one policy's desired state with one cluster, and record what drifted.

A scan is a row first (queued), claimed by exactly one worker (a conditional UPDATE), run
with progress written as it goes, and finished as succeeded (possibly partial) or failed.
Evidence that could not be read (a manifest that does not parse, a kind the identity may
not list) makes the scan partial and is never taken as an absence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from drift import git, kube
from drift.engine.compare import compare
from drift.engine.normalize import DesiredObject, ObjectKey, SecretHasher, key_of
from drift.engine.policy import EnginePolicy
from drift.models import Cluster, DriftPolicy, FindingType, GitSource, Scan, ScanStatus, ScanTrigger
from drift.services import annotating, clusters, desired, evidence, ledger
from driftcontrol import audit, queue
from driftcontrol.extensions import app_modules
from driftcontrol.outbox import publish

log = logging.getLogger(__name__)

# A running scan writes a heartbeat with its progress; one silent this long lost its worker.
# The task that runs a queued scan (drift/tasks.py), queued by name: tasks import us.
RUN_SCAN = "scans.run"
SCAN_STALE_AFTER = timedelta(minutes=10)
# A queued scan whose message was lost (broker restarted) is sent again after this.
QUEUED_RESEND_AFTER = timedelta(minutes=5)


def request(
    policy: DriftPolicy,
    cluster: Any,
    trigger: str = ScanTrigger.MANUAL,
    user: Any = None,
    actor: str | None = None,
    enqueue: bool = True,
) -> tuple[Scan, bool]:
    """Queue a scan of the pair unless one is already queued or running (returned instead).

    ``enqueue=False`` leaves running it to the caller (the CLI runs scans in-process).
    """
    with transaction.atomic():
        active = Scan.objects.running().filter(policy=policy, cluster=cluster).first()
        if active is not None:
            return active, False
        try:
            with transaction.atomic():
                scan = Scan.objects.create(
                    policy=policy,
                    cluster=cluster,
                    trigger=trigger,
                    requested_by=user if user and user.pk else None,
                )
        except IntegrityError:  # another request won the race between the check and here
            return Scan.objects.running().get(policy=policy, cluster=cluster), False
        if user is not None or actor is not None:
            audit.record(
                user if user is not None else actor,
                "scan.requested",
                scan,
                {"policy": policy.name, "cluster": cluster.name, "trigger": trigger},
            )
        if enqueue:
            queue.after_commit(RUN_SCAN, scan.pk)
    return scan, True


def run(scan_id: int) -> Scan | None:
    """Claim and run a queued scan; None when another worker has it or it is gone."""
    now = timezone.now()
    claimed = Scan.objects.filter(pk=scan_id, status=ScanStatus.QUEUED).update(
        status=ScanStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return None
    scan = Scan.objects.select_related("policy__source", "cluster").get(pk=scan_id)
    try:
        _Scanner(scan).run()
    except (kube.KubeError, git.GitError) as error:
        _fail(scan, _one_line(str(error)))
    except Exception as error:
        # The traceback is for the log; people see what went wrong in one line.
        log.exception("scan %s failed", scan.pk)
        said = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        _fail(scan, f"internal error: {_one_line(said, 300)}")
    return scan


def _one_line(text: str, limit: int = 2000) -> str:
    """A message as one line of at most limit characters (an error may quote many)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _fail(scan: Scan, reason: str) -> None:
    with transaction.atomic():
        scan.status, scan.error, scan.finished_at = ScanStatus.FAILED, reason[:4000], timezone.now()
        scan.save(update_fields=["status", "error", "finished_at"])
        publish(
            "scan.failed",
            {
                "scan": scan.pk,
                "policy": scan.policy.name,
                "cluster": scan.cluster.name,
                "error": scan.error,
            },
        )


class _Scanner:
    def __init__(self, scan: Scan) -> None:
        self.scan, self.policy, self.cluster = scan, scan.policy, scan.cluster
        self._last_progress = 0.0

    def progress(self, done: int, total: int, force: bool = False) -> None:
        """Write progress (and the heartbeat) at most twice a second."""
        now = time.monotonic()
        if force or now - self._last_progress > 0.5:
            self._last_progress = now
            Scan.objects.filter(pk=self.scan.pk).update(
                progress_done=done, progress_total=total, heartbeat_at=timezone.now()
            )

    def run(self) -> None:
        connection, discovery = self.connect()
        revision = _read_source(self.policy.source)
        seen = examine(self.policy, connection, discovery, revision, self.progress, self.cluster)
        annotating.annotate(self.cluster, seen.observations)
        outcome = ledger.record(self.policy, self.cluster, seen.observations, seen.known, self.scan)
        for write in seen.afterwards:
            write()
        self.finish(seen.state, seen.live, outcome, seen.total)

    def connect(self) -> tuple[kube.Kube, kube.Discovery]:
        """A connection to the cluster and what it serves; the contact is recorded either way."""
        try:
            connection = clusters.connect(self.cluster)
            clusters.record_contact(self.cluster, connection.version())
            return connection, connection.discover()
        except kube.KubeError as error:
            clusters.record_contact(self.cluster, error=str(error))
            raise

    def finish(
        self,
        state: desired.DesiredState,
        live: evidence.LiveState,
        outcome: ledger.Outcome,
        total: int,
    ) -> None:
        scan = self.scan
        problems = [str(error) for error in state.errors] + live.failures
        reasons = []
        if state.errors:
            reasons.append(
                f"{len(state.errors)} manifest problem(s): objects in those files are unknown"
            )
        if live.failures:
            reasons.append(f"{len(live.failures)} kind(s) could not be read")
        scan.status, scan.finished_at = ScanStatus.SUCCEEDED, timezone.now()
        scan.revision = state.revision
        scan.partial, scan.partial_reason, scan.problems = (
            bool(problems),
            "; ".join(reasons),
            problems[:200],
        )
        scan.progress_done = scan.progress_total = total
        scan.objects_desired = len(state.objects)
        scan.objects_live = len(live.objects)
        scan.findings_opened, scan.findings_resolved = len(outcome.opened), len(outcome.resolved)
        scan.findings_open = self.policy.findings.open().filter(cluster=self.cluster).count()
        scan.heartbeat_at = scan.finished_at
        scan.save()


class Progress(Protocol):
    """Told how far a scan is: `done` of `total` steps (kinds listed, objects compared)."""

    def __call__(self, done: int, total: int, force: bool = False) -> None: ...


@dataclass(frozen=True)
class Reading:
    """What one scan read and found, for the rooms that evaluate it too: each room's
    `scanning.observe(reading)` returns its own observations (driftcontrol.extensions)."""

    policy: DriftPolicy
    cluster: Cluster | None
    state: desired.DesiredState
    live: evidence.LiveState
    rules: EnginePolicy
    connection: kube.Kube
    discovery: kube.Discovery
    drift: list[ledger.Observation]  # what the diff found
    # What a room keeps of the scan besides findings (alignment: which images run where),
    # written once the scan records its findings; a dry run never writes it.
    afterwards: list[Callable[[], object]] = field(default_factory=list)


@dataclass
class Examination:
    """What comparing a policy's desired state with one cluster found: nothing written yet."""

    state: desired.DesiredState
    live: evidence.LiveState
    observations: list[ledger.Observation]
    total: int  # the steps progress counted
    afterwards: list[Callable[[], object]] = field(default_factory=list)  # Reading's

    def known(self, key: ObjectKey) -> bool:
        """Whether the evidence about key is complete: only then may its finding resolve."""
        read = (key.group, key.kind) in self.live.read
        return read and (self.state.complete or key in self.state.objects)


def examine(
    policy: DriftPolicy,
    connection: kube.Kube,
    discovery: kube.Discovery,
    revision: desired.Revision,
    progress: Progress,
    cluster: Cluster | None = None,
) -> Examination:
    """Compare the revision's objects (as this cluster holds them) with the live ones, as a
    scan does, and say what drifted. Reads the cluster; writes nothing (the dry run of an
    unsaved policy relies on it). ``cluster`` gives the rooms that add rules its lanes."""
    hasher = desired.secret_hasher()
    state = desired.for_cluster(revision, policy, discovery, hasher)
    scope = desired.Scope.of(policy)
    resources = evidence.resources_to_read(policy, state, discovery, scope)
    total = len(resources) + len(state.objects)
    progress(0, total, force=True)
    live = read_live(connection, resources, scope, total, progress)
    versions = {(r.group, r.kind): r.api_version for r in resources}
    targets = evidence.hpa_targets(state, live)
    rules = evidence.engine_policy(policy)
    observations: list[ledger.Observation] = []
    for done, (key, obj) in enumerate(state.objects.items(), start=len(resources) + 1):
        progress(done, total)
        if (key.group, key.kind) not in live.read:
            continue
        found = live.objects.get(key)
        if obj.api_version != versions[key.group, key.kind]:
            # Git declares this object in another version than the one listed: read it
            # in its own, or the comparison would mix two schemas.
            resource = discovery.find(obj.api_version, key.kind)
            found = (
                connection.get(resource, key.namespace or None, key.name)
                if resource is not None
                else None
            )
        extra = ("/spec/replicas",) if key in targets else ()
        observation = _observation(key, obj, found, rules, hasher, extra)
        if observation is not None:
            observations.append(observation)
    if policy.detect_unmanaged and state.complete:
        observations += evidence.unmanaged(state, live, scope, rules, hasher)
    # Rooms built on detection evaluate what was read too (alignment's rules).
    reading = Reading(policy, cluster, state, live, rules, connection, discovery, observations)
    alike: list[ledger.Observation] = []
    for module in app_modules("scanning"):
        alike += module.observe(reading)
    return Examination(state, live, observations + alike, total, reading.afterwards)


def read_live(
    connection: kube.Kube,
    resources: list[kube.Resource],
    scope: desired.Scope,
    total: int,
    progress: Progress,
) -> evidence.LiveState:
    live = evidence.LiveState()
    namespaces = scope.listed_namespaces()
    for done, resource in enumerate(resources, start=1):
        progress(done, total)
        try:
            listed: list[str | None] = [None]
            if resource.namespaced and namespaces:
                listed = list(namespaces)
            for namespace in listed:
                for page in connection.pages(resource, namespace):
                    for item in page.items:
                        key = key_of(item)
                        if key.kind == "HorizontalPodAutoscaler":
                            live.autoscalers.append(item)
                        if scope.covers(key, (item.get("metadata") or {}).get("labels")):
                            live.objects[key] = item
                    progress(done, total)
        except kube.KubeError as error:
            live.failures.append(
                f"{resource.kind} ({resource.api_version}) could not be read: {error}"
            )
            continue
        live.read.add((resource.group, resource.kind))
    return live


def _observation(
    key: ObjectKey,
    obj: DesiredObject,
    found: dict[str, Any] | None,
    rules: EnginePolicy,
    hasher: SecretHasher,
    extra: tuple[str, ...],
) -> ledger.Observation | None:
    """What a declared object's live state (None: there is none) shows, if anything."""
    if found is None:
        return evidence.missing(key, obj, rules, hasher)
    drift = compare(obj, found, rules, hasher, extra)
    if drift is None:
        return None
    return ledger.Observation(
        key,
        obj.api_version,
        FindingType.MODIFIED,
        drift.severity,
        drift.as_dict(),
        drift.attribution,
        drift.drift_started_at,
        obj.source,
        live=found,
    )


def _read_source(source: GitSource) -> desired.Revision:
    try:
        revision = desired.read_revision(source)
    except git.GitError as error:
        GitSource.objects.filter(pk=source.pk).update(last_error=str(error)[:2000])
        raise
    now = timezone.now()
    # The head's age is how long clusters have had to catch up with it (sync.lagging).
    GitSource.objects.filter(pk=source.pk).filter(
        ~Q(last_revision=revision.sha) | Q(revision_since__isnull=True)
    ).update(revision_since=now)
    GitSource.objects.filter(pk=source.pk).update(
        last_revision=revision.sha, last_fetched_at=now, last_error=""
    )
    return revision


def dispatch_due() -> int:
    """Queue a scheduled scan for every (policy, cluster) pair whose interval has passed."""
    now = timezone.now()
    queued = 0
    for policy in DriftPolicy.objects.filter(enabled=True).select_related("source"):
        last = dict(
            Scan.objects.filter(policy=policy).values_list("cluster").annotate(at=Max("created_at"))
        )
        for cluster in clusters.targets(policy):
            previous = last.get(cluster.pk)
            if previous is None or previous + timedelta(seconds=policy.interval_seconds) <= now:
                _, created = request(policy, cluster, ScanTrigger.SCHEDULE)
                queued += created
    return queued


def reap() -> int:
    """Fail scans whose worker went silent; send again scans whose message was lost."""
    now = timezone.now()
    stale = Scan.objects.filter(status=ScanStatus.RUNNING, heartbeat_at__lt=now - SCAN_STALE_AFTER)
    failed = 0
    for scan in stale.select_related("policy", "cluster"):
        if Scan.objects.filter(
            pk=scan.pk, status=ScanStatus.RUNNING, heartbeat_at__lt=now - SCAN_STALE_AFTER
        ).update(
            status=ScanStatus.FAILED,
            finished_at=now,
            error="the worker stopped reporting progress (lost or killed)",
        ):
            publish(
                "scan.failed",
                {
                    "scan": scan.pk,
                    "policy": scan.policy.name,
                    "cluster": scan.cluster.name,
                    "error": "worker lost",
                },
            )
            failed += 1
    for scan_id in Scan.objects.filter(
        status=ScanStatus.QUEUED, created_at__lt=now - QUEUED_RESEND_AFTER
    ).values_list("pk", flat=True):
        queue.send(RUN_SCAN, scan_id)
    return failed
