"""A dry run of a DriftPolicy document: what it would find on each cluster it targets,
right now, before it is saved.

It reads Git and every cluster and compares them as a scan does (`scanning.examine`, the
same code), then keeps the result in memory only: no Scan row, no finding in the ledger,
no audit event, not even a source's last revision or a cluster's last contact. Someone is
waiting, so it is bounded in time: clusters are read one after another until a deadline,
each over a connection that gives up sooner than a scan's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from drift import declarative, git, kube
from drift.engine.severity import LEVELS, rank
from drift.models import Cluster, DriftPolicy, FindingType, GitSource
from drift.services import clusters, configuration, desired, ledger, scanning

log = logging.getLogger(__name__)

DRY_RUN_SECONDS = 60.0
FINDINGS_SHOWN = 50
PROBLEMS_SHOWN = 20
# (connect, read) seconds and retries per request: a scan waits longer and tries again,
# a person would rather see "unreachable" quickly.
_TIMEOUT = (5.0, 15.0)
_RETRIES = 1
_PATHS_SHOWN = 3


class _OutOfTime(Exception):
    """The dry run's deadline passed while a cluster was being read."""


@dataclass
class Found:
    """One finding the policy would open (or keep open), as a line of the dry run."""

    type: str
    object: str
    severity: str
    summary: str


@dataclass
class OnCluster:
    """What the dry run found on one cluster, or why it could not read it."""

    cluster: str
    error: str = ""
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # by severity, worst first
    shown: list[Found] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what a scan would call partial
    objects_desired: int = 0
    objects_live: int = 0


@dataclass
class DryRun:
    """A dry run of one policy document over the clusters it targets."""

    policy: str
    source: str
    revision: str = ""
    error: str = ""  # the source could not be read: no cluster was compared
    clusters: list[OnCluster] = field(default_factory=list)
    seconds: float = 0.0
    limit: float = DRY_RUN_SECONDS


def dry_run(document: dict[str, Any], limit: float = DRY_RUN_SECONDS) -> DryRun:
    """Validate the document as saving it would (Invalid when it is not), then compare
    its desired state with every enabled cluster it targets. Writes nothing."""
    policy = unsaved(configuration.validate(document))
    started = time.monotonic()
    deadline = started + limit
    result = DryRun(policy.name, policy.source.name, limit=limit)
    try:
        # The source's mirror is fetched as a scan fetches it (shared, and cached).
        revision = desired.read_revision(policy.source)
    except git.GitError as error:
        result.error = f"Git source {policy.source.name} could not be read: {error}"
        return result
    result.revision = revision.sha
    for cluster in clusters.targets(policy):
        if time.monotonic() >= deadline:
            result.clusters.append(OnCluster(cluster.name, error=_late(limit)))
            continue
        result.clusters.append(_on_cluster(policy, cluster, revision, deadline, limit))
    result.seconds = time.monotonic() - started
    return result


def unsaved(planned: declarative.Planned) -> DriftPolicy:
    """The policy a valid document describes, as a model instance that is never saved."""
    values = dict(planned.values)
    source = GitSource.objects.get(name=values.pop("source"))
    return DriftPolicy(name=planned.name, source=source, **values)


def _on_cluster(
    policy: DriftPolicy, cluster: Cluster, revision: desired.Revision, deadline: float, limit: float
) -> OnCluster:
    def progress(done: int, total: int, force: bool = False) -> None:
        if time.monotonic() >= deadline:
            raise _OutOfTime

    found = OnCluster(cluster.name)
    try:
        connection = clusters.connect(cluster)
        connection.timeout, connection.retries = _TIMEOUT, _RETRIES
        seen = scanning.examine(
            policy, connection, connection.discover(), revision, progress, cluster
        )
    except kube.KubeError as error:
        found.error = f"could not be read: {error}"
    except _OutOfTime:
        found.error = _late(limit)
    except Exception as error:
        # As a scan does: the traceback for the log, one line for the person.
        log.exception("dry run of policy %s on cluster %s failed", policy.name, cluster.name)
        found.error = f"internal error: {type(error).__name__}: {error}"[:300]
    else:
        _summarise(found, seen)
    return found


def _summarise(found: OnCluster, seen: scanning.Examination) -> None:
    observations = sorted(seen.observations, key=lambda o: (-rank(o.severity), str(o.key)))
    found.total = len(observations)
    for level in reversed(LEVELS):
        found.counts[level] = sum(o.severity == level for o in observations)
    found.shown = [_line(o) for o in observations[:FINDINGS_SHOWN]]
    found.problems = ([str(error) for error in seen.state.errors] + seen.live.failures)[
        :PROBLEMS_SHOWN
    ]
    found.objects_desired = len(seen.state.objects)
    found.objects_live = len(seen.live.objects)


def _line(observation: ledger.Observation) -> Found:
    if observation.type == FindingType.MISSING:
        summary = "declared in Git, missing from the cluster"
    elif observation.type == FindingType.UNMANAGED:
        summary = "on the cluster, not declared in Git"
    else:
        paths = list(observation.diff.get("paths") or [])
        more = len(paths) - _PATHS_SHOWN
        summary = ", ".join(paths[:_PATHS_SHOWN]) + (f" and {more} more" if more > 0 else "")
    return Found(observation.type, str(observation.key), observation.severity, summary)


def _late(limit: float) -> str:
    return f"not read: the dry run's time limit ({limit:g} s) passed first"
