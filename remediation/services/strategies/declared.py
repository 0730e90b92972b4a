"""Objects as Git declares them: planned, applied and checked by server-side apply.

Sync uses this at the source's head; a rollback to an earlier commit (`--revision`) uses it
at that commit. The apply is forced under field manager `driftcontrol`: correcting drift
means taking the drifted fields back from whoever edited them. Unmanaged objects are
deleted only when the policy allows pruning.
"""

from __future__ import annotations

from typing import Any

from drift import kube
from drift.engine.compare import compare
from drift.engine.displaced import displaced, with_replacements, without_replaced
from drift.engine.normalize import REVISION_ANNOTATION, DesiredObject, ObjectKey
from drift.models import DriftPolicy, Finding, FindingType, GitSource
from drift.services import desired, evidence
from drift.services.desired import secret_hasher
from remediation.models import RemediationRequest, RemediationStep, StepAction
from remediation.services.live import LiveCluster
from remediation.services.planning import (
    FIELD_MANAGER,
    Plan,
    PlanError,
    PlannedStep,
    based_on,
    dry_run_step,
    key_of,
    refusal,
    served,
    step_key,
)


def plan(
    request: RemediationRequest,
    findings: list[Finding],
    cluster: LiveCluster,
    revision: str | None,
) -> Plan:
    """Each object as Git declares it at ``revision`` (None: the source's head)."""
    policy = request.policy
    if policy is None:
        raise PlanError("the findings' policy is gone; nothing says what Git declares")
    source = GitSource.objects.get(pk=policy.source_id)
    try:
        read = desired.read_at(source, revision) if revision else desired.read_revision(source)
    except Exception as error:  # git.GitError, with its own clear message
        raise PlanError(f"cannot read Git source {source.name}: {error}") from None
    state = desired.for_cluster(read, policy, cluster.discovery, secret_hasher())
    steps = []
    for finding in findings:
        key = key_of(finding)
        if finding.type == FindingType.UNMANAGED:
            steps.append(_prune(policy, finding, key, cluster))
            continue
        declared = state.objects.get(key)
        if declared is None:
            raise PlanError(
                f"{key} is not declared in Git at {read.sha[:12]}; nothing to sync it to"
            )
        steps.append(_apply(finding, declared, cluster, read.sha))
    return Plan(read.sha, steps)


def _apply(
    finding: Finding, declared: DesiredObject, cluster: LiveCluster, revision: str
) -> PlannedStep:
    key = declared.key
    resource = served(cluster.discovery, declared.api_version, key.kind)
    live = cluster.connection.get(resource, key.namespace or None, key.name)
    payload = stamped(cluster.apply_form(declared.manifest), revision)
    found = displaced(payload, live) if live is not None else []
    try:
        if found:
            # The displaced items are still there for the dry run: it takes what Git
            # declares without the items they stand in for, and the plan shows those in
            # their place, as removing the displaced ones first will leave them.
            answer = cluster.connection.apply(
                resource, without_replaced(payload, found), FIELD_MANAGER, force=True, dry_run=True
            )
            planned = with_replacements(answer, found)
        else:
            planned = cluster.connection.apply(
                resource, payload, FIELD_MANAGER, force=True, dry_run=True
            )
    except kube.KubeError as error:
        raise refusal(str(key), error, cluster.cluster.name) from None
    step = dry_run_step(
        finding,
        declared.api_version,
        key,
        StepAction.APPLY if live is not None else StepAction.CREATE,
        f"git:{revision}",
        live,
        planned,
    )
    if live is not None and not step.changes:
        step.skipped = "already as Git declares"
    return step


def stamped(manifest: dict[str, Any], revision: str) -> dict[str, Any]:
    """The manifest with the revision it comes from in DriftControl's own annotation (never
    drift; `sync.lagging` reads it), so the object says which commit it was put back to."""
    if not revision:
        return manifest
    metadata = manifest.get("metadata") or {}
    annotations = {**(metadata.get("annotations") or {}), REVISION_ANNOTATION: revision}
    return {**manifest, "metadata": {**metadata, "annotations": annotations}}


def _prune(
    policy: DriftPolicy, finding: Finding, key: ObjectKey, cluster: LiveCluster
) -> PlannedStep:
    if not policy.prune:
        raise PlanError(
            f"{key} is unmanaged and the policy does not allow pruning "
            "(set remediation.prune: true to let a sync delete it)"
        )
    resource = served(cluster.discovery, finding.api_version, key.kind)
    live = cluster.connection.get(resource, key.namespace or None, key.name)
    step = PlannedStep(
        finding,
        finding.api_version,
        key,
        StepAction.DELETE,
        changes=[{"path": "", "live": "exists", "planned": "deleted"}],
    )
    based_on(step, live)
    if live is None:
        step.skipped = "already gone"
        return step
    try:
        cluster.connection.delete(resource, key.namespace or None, key.name, dry_run=True)
    except kube.KubeError as error:
        raise refusal(f"deleting {key}", error, cluster.cluster.name) from None
    return step


class Declared:
    """What Git declares for the request's cluster at the revision its plan was made from:
    read the first time an execution needs it, then kept for the rest of the run."""

    def __init__(self, request: RemediationRequest) -> None:
        self.request = request
        self._state: desired.DesiredState | None = None
        self._scaled: set[ObjectKey] = set()

    def object(self, step: RemediationStep, cluster: LiveCluster) -> DesiredObject:
        if self._state is None:
            policy = self._policy()
            self._state = desired.for_cluster(
                desired.read_at(policy.source, self.request.revision),
                policy,
                cluster.discovery,
                secret_hasher(),
            )
            # An autoscaler owns the replicas of what it scales: not ours to verify.
            self._scaled = evidence.hpa_targets(self._state, evidence.LiveState())
        return self._state.objects[step_key(step)]

    def apply(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> dict[str, Any] | None:
        resource, revision = cluster.resource(step), self.request.revision
        if step.action == StepAction.DELETE:
            if live is not None:
                # Guarded by the version planned on: a changed object is not deleted.
                cluster.connection.delete(
                    resource,
                    step.namespace or None,
                    step.name,
                    resource_version=step.base_resource_version,
                )
            return None
        manifest = stamped(cluster.apply_form(self.object(step, cluster).manifest), revision)
        found = displaced(manifest, live) if live is not None else []
        if live is not None and found:
            # Items a live edit put in place of declared ones are swapped back first, in one
            # request that does nothing unless the object is still the one just read.
            guard = {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": live["metadata"]["resourceVersion"],
            }
            removals = [op for item in found for op in item.patch()]
            cluster.connection.patch(
                resource, step.namespace or None, step.name, [guard, *removals], FIELD_MANAGER
            )
        return cluster.connection.apply(resource, manifest, FIELD_MANAGER, force=True)

    def differs(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> list[str]:
        if step.action == StepAction.DELETE:
            return [] if live is None else ["the object still exists"]
        if live is None:
            return ["the object does not exist"]
        declared = self.object(step, cluster)
        drift = compare(
            declared,
            live,
            evidence.engine_policy(self._policy()),
            secret_hasher(),
            ("/spec/replicas",) if step_key(step) in self._scaled else (),
        )
        return [] if drift is None else drift.paths

    def _policy(self) -> DriftPolicy:
        policy = self.request.policy
        assert policy is not None  # a request without a policy has no plan from Git
        return policy
