"""Plans: before anyone approves, a server-side dry run of exactly what each step will do.

A step records the live object it was planned on (its resourceVersion and a digest of its
state): at execution a different base means someone changed the object meanwhile, and the
plan goes back for approval instead of overwriting their change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drift import kube
from drift.engine import fields
from drift.engine.normalize import DesiredObject, ObjectKey, redacted
from drift.models import Finding, FindingType, GitSource, ObjectSnapshot, RemediationStrategy
from drift.services import desired, snapshots
from drift.services.desired import secret_hasher
from driftcontrol.exceptions import DomainError
from remediation.models import RemediationRequest, StepAction

FIELD_MANAGER = "driftcontrol"


class PlanError(DomainError):
    """The request cannot be planned as asked (nothing is stored)."""


@dataclass
class PlannedStep:
    finding: Finding | None
    api_version: str
    key: ObjectKey
    action: str
    source: str = ""
    base_resource_version: str = ""
    base_digest: str = ""
    planned: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    takeovers: list[dict[str, str]] = field(default_factory=list)
    skipped: str = ""  # why this object needs nothing


@dataclass
class Plan:
    revision: str
    steps: list[PlannedStep]

    def summary(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "objects": len(self.steps),
            "changes": sum(len(s.changes) for s in self.steps),
            "takeovers": sum(len(s.takeovers) for s in self.steps),
        }


def key_of(finding: Finding) -> ObjectKey:
    return ObjectKey(finding.api_group, finding.kind, finding.namespace, finding.name)


def make(
    request: RemediationRequest, findings: list[Finding], connection: kube.Kube | None = None
) -> Plan:
    """Plan ``request`` over ``findings`` (raises PlanError with the reason)."""
    if request.strategy == RemediationStrategy.ALERT:
        return Plan(
            "", [PlannedStep(f, f.api_version, key_of(f), StepAction.NOTIFY) for f in findings]
        )
    from drift.services import clusters

    try:
        connection = connection or clusters.connect(request.cluster)
        discovery = connection.discover()
    except kube.KubeError as error:
        raise PlanError(f"cannot reach cluster {request.cluster.name} to plan: {error}") from None
    target = request.target or {}
    if request.strategy == RemediationStrategy.SYNC or target.get("revision"):
        return _from_git(request, findings, connection, discovery, target.get("revision"))
    return _from_snapshots(request, findings, connection, discovery, target.get("snapshots") or {})


def _from_git(
    request: RemediationRequest,
    findings: list[Finding],
    connection: kube.Kube,
    discovery: kube.Discovery,
    revision: str | None,
) -> Plan:
    policy = request.policy
    if policy is None:
        raise PlanError("the findings' policy is gone; nothing says what Git declares")
    source = GitSource.objects.get(pk=policy.source_id)
    try:
        read = desired.read_at(source, revision) if revision else desired.read_revision(source)
    except Exception as error:  # git.GitError, with its own clear message
        raise PlanError(f"cannot read Git source {source.name}: {error}") from None
    state = desired.for_cluster(read, policy, discovery, secret_hasher())
    steps = []
    for finding in findings:
        key = key_of(finding)
        if finding.type == FindingType.UNMANAGED:
            steps.append(_prune(policy.prune, finding, key, connection, discovery))
            continue
        declared = state.objects.get(key)
        if declared is None:
            raise PlanError(
                f"{key} is not declared in Git at {read.sha[:12]}; nothing to sync it to"
            )
        steps.append(_apply(finding, declared, connection, discovery, read.sha))
    return Plan(read.sha, steps)


def _resource(discovery: kube.Discovery, api_version: str, kind: str) -> kube.Resource:
    resource = discovery.find(api_version, kind)
    if resource is None:
        raise PlanError(f"the cluster does not serve {kind} ({api_version})")
    return resource


def _apply(
    finding: Finding,
    declared: DesiredObject,
    connection: kube.Kube,
    discovery: kube.Discovery,
    revision: str,
) -> PlannedStep:
    key = declared.key
    resource = _resource(discovery, declared.api_version, key.kind)
    live = connection.get(resource, key.namespace or None, key.name)
    try:
        planned = connection.apply(
            resource, declared.manifest, FIELD_MANAGER, force=True, dry_run=True
        )
    except kube.KubeError as error:
        raise PlanError(f"the dry run of {key} was refused: {error}") from None
    step = PlannedStep(
        finding,
        declared.api_version,
        key,
        StepAction.APPLY if live is not None else StepAction.CREATE,
        source=f"git:{revision}",
        planned=_shown(planned),
        changes=changes(live, planned),
        takeovers=takeovers(live, planned),
    )
    _set_base(step, live)
    if live is not None and not step.changes:
        step.skipped = "already as Git declares"
    return step


def _prune(
    allowed: bool,
    finding: Finding,
    key: ObjectKey,
    connection: kube.Kube,
    discovery: kube.Discovery,
) -> PlannedStep:
    if not allowed:
        raise PlanError(
            f"{key} is unmanaged and the policy does not allow pruning "
            "(set remediation.prune: true to let a sync delete it)"
        )
    resource = _resource(discovery, finding.api_version, key.kind)
    live = connection.get(resource, key.namespace or None, key.name)
    step = PlannedStep(
        finding,
        finding.api_version,
        key,
        StepAction.DELETE,
        changes=[{"path": "", "live": "exists", "planned": "deleted"}],
    )
    _set_base(step, live)
    if live is None:
        step.skipped = "already gone"
    else:
        connection.delete(resource, key.namespace or None, key.name, dry_run=True)
    return step


def _from_snapshots(
    request: RemediationRequest,
    findings: list[Finding],
    connection: kube.Kube,
    discovery: kube.Discovery,
    chosen: dict[str, int],
) -> Plan:
    """Rollback: each object back to its last known state (or the snapshot chosen for it)."""
    steps = []
    for finding in findings:
        key = key_of(finding)
        snapshot = _snapshot_for(request, finding, key, chosen.get(str(finding.pk)))
        if snapshot.redacted:
            raise PlanError(
                f"{key} is a Secret: its values are never kept, so it cannot be "
                "rolled back from a snapshot; restore it from its source"
            )
        resource = _resource(discovery, snapshot.api_version, key.kind)
        live = connection.get(resource, key.namespace or None, key.name)
        manifest = restorable(snapshot, live)
        try:
            planned = (
                connection.replace(resource, manifest, dry_run=True)
                if live is not None
                else connection.create(resource, manifest, dry_run=True)
            )
        except kube.KubeError as error:
            raise PlanError(f"the dry run of restoring {key} was refused: {error}") from None
        step = PlannedStep(
            finding,
            snapshot.api_version,
            key,
            StepAction.RESTORE,
            source=f"snapshot:{snapshot.pk}",
            planned=_shown(planned),
            changes=changes(live, planned),
            takeovers=takeovers(live, planned),
        )
        _set_base(step, live)
        steps.append(step)
    return Plan("", steps)


def _snapshot_for(
    request: RemediationRequest, finding: Finding, key: ObjectKey, chosen: int | None
) -> ObjectSnapshot:
    if chosen is not None:
        found = ObjectSnapshot.objects.filter(
            pk=chosen,
            cluster=request.cluster,
            api_group=key.group,
            kind=key.kind,
            namespace=key.namespace,
            name=key.name,
        ).first()
        if found is None:
            raise PlanError(f"snapshot {chosen} is not a snapshot of {key}")
        return found
    if request.rollback_of_id is not None:
        # Undoing a remediation: the state just before it touched the object.
        found = (
            ObjectSnapshot.objects.filter(
                request_id=request.rollback_of_id,
                api_group=key.group,
                kind=key.kind,
                namespace=key.namespace,
                name=key.name,
            )
            .order_by("-taken_at")
            .first()
        )
        if found is not None:
            return found
    found = snapshots.latest(request.cluster, key, ("before-remediation", "finding-opened"))
    if found is None:
        raise PlanError(f"no snapshot of {key} to roll back to")
    return found


def restorable(snapshot: ObjectSnapshot, live: dict[str, Any] | None) -> dict[str, Any]:
    """The snapshot as a PUT body: guarded by the live resourceVersion when there is one."""
    manifest = {**snapshot.manifest, "metadata": dict(snapshot.manifest.get("metadata") or {})}
    if live is not None:
        manifest["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    return manifest


def _set_base(step: PlannedStep, live: dict[str, Any] | None) -> None:
    step.base_resource_version = str((live or {}).get("metadata", {}).get("resourceVersion", ""))
    step.base_digest = snapshots.digest(live)


def _shown(obj: dict[str, Any]) -> dict[str, Any]:
    """What the dry run returned, safe to store and show."""
    return redacted(snapshots.state_of(obj), secret_hasher())


def changes(live: dict[str, Any] | None, planned: dict[str, Any]) -> list[dict[str, Any]]:
    """Paths whose value the step changes, with the live and the planned value."""
    before = _shown(live) if live is not None else {}
    after = _shown(planned)
    found: list[dict[str, Any]] = []
    _walk(before, after, "", found)
    return found


def _walk(before: Any, after: Any, path: str, found: list[dict[str, Any]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if path == "" and key == "metadata":
                # Identity and server bookkeeping are not changes a person makes.
                for part in ("labels", "annotations"):
                    _walk(
                        (before.get("metadata") or {}).get(part),
                        (after.get("metadata") or {}).get(part),
                        f"/metadata/{part}",
                        found,
                    )
                continue
            _walk(before.get(key), after.get(key), f"{path}/{fields_escape(key)}", found)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            _walk(old, new, f"{path}/{index}", found)
    elif before != after:
        found.append({"path": path or "/", "live": before, "planned": after})


def fields_escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def takeovers(live: dict[str, Any] | None, planned: dict[str, Any]) -> list[dict[str, str]]:
    """Fields the apply takes from another field manager: what that manager owned before and
    no longer owns once `driftcontrol` has forced its apply."""
    if live is None:
        return []
    after = {(e.manager, e.operation): e for e in fields.entries(planned)}
    ours = [e for e in fields.entries(planned) if e.manager == FIELD_MANAGER]
    found = []
    for entry in fields.entries(live):
        if entry.manager == FIELD_MANAGER:
            continue
        kept = after.get((entry.manager, entry.operation))
        lost = fields.leaves(entry.fields) - (fields.leaves(kept.fields) if kept else set())
        for leaf in sorted(lost):
            if any(fields.owns(mine.fields, leaf) for mine in ours):
                found.append({"field": fields.readable(leaf), "from": entry.manager})
    return found
