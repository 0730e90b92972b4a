"""Plans: before anyone approves, a server-side dry run of exactly what each step will do.

What each object becomes is each strategy's to say (`strategies/`); this module holds what
plans are made of and how they are stored. A step records the live object it was planned
on (its resourceVersion and a digest of its state): at execution a different base means
someone changed the object meanwhile, and the plan goes back for approval instead of
overwriting their change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drift import kube
from drift.engine import fields
from drift.engine.normalize import REVISION_ANNOTATION, ObjectKey, redacted
from drift.models import Finding
from drift.services import snapshots
from drift.services.desired import secret_hasher
from driftcontrol.exceptions import ClusterRefused, ClusterUnreachable, DomainError
from remediation.models import RemediationRequest, RemediationStep, StepStatus

# Server-side apply takes the drifted fields back under this name (`force=true`).
FIELD_MANAGER = "driftcontrol"


class PlanError(DomainError):
    """The request cannot be planned as asked (nothing is stored)."""


class PlanRefused(PlanError, ClusterRefused):
    """The cluster refused a dry run of the plan: its status and message say why."""


class PlanUnreachable(PlanError, ClusterUnreachable):
    """The cluster could not be reached to plan."""


def refusal(what: str, error: kube.KubeError, cluster: str) -> PlanError:
    """A dry run the cluster would not do, reported as the cluster's answer."""
    if isinstance(error, kube.Unreachable):
        return PlanUnreachable(f"cannot reach cluster {cluster} to plan {what}: {error}")
    return PlanRefused(
        f"cluster {cluster} refused the dry run of {what}: {error}",
        cluster,
        error.status,
        str(error),
    )


@dataclass
class PlannedStep:
    """What one step will do to one object, before it is stored as a RemediationStep."""

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
    """The steps of a request, planned from one Git revision ("" when Git is not read)."""

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


def step_key(step: RemediationStep) -> ObjectKey:
    return ObjectKey(step.api_version.rpartition("/")[0], step.kind, step.namespace, step.name)


def served(discovery: kube.Discovery, api_version: str, kind: str) -> kube.Resource:
    """The cluster's resource for a kind (a kind it does not serve cannot be planned)."""
    resource = discovery.find(api_version, kind)
    if resource is None:
        raise PlanError(f"the cluster does not serve {kind} ({api_version})")
    return resource


def dry_run_step(
    finding: Finding | None,
    api_version: str,
    key: ObjectKey,
    action: str,
    source: str,
    live: dict[str, Any] | None,
    planned: dict[str, Any],
) -> PlannedStep:
    """A step from what the dry run returned: the paths it changes, the fields it takes
    over, and the live object it is based on."""
    step = PlannedStep(
        finding,
        api_version,
        key,
        action,
        source=source,
        planned=_shown(planned),
        changes=changes(live, planned),
        takeovers=takeovers(live, planned),
    )
    based_on(step, live)
    return step


def store(request: RemediationRequest, plan: Plan) -> None:
    """Replace the request's steps with the plan's (within the caller's transaction)."""
    request.steps.all().delete()
    RemediationStep.objects.bulk_create(
        [
            RemediationStep(
                request=request,
                position=position,
                finding=step.finding,
                api_version=step.api_version,
                kind=step.key.kind,
                namespace=step.key.namespace,
                name=step.key.name,
                action=step.action,
                source=step.source,
                base_resource_version=step.base_resource_version,
                base_digest=step.base_digest,
                planned=step.planned,
                changes=step.changes,
                takeovers=step.takeovers,
                status=StepStatus.SKIPPED if step.skipped else StepStatus.PENDING,
                result={"skipped": step.skipped} if step.skipped else {},
            )
            for position, step in enumerate(plan.steps)
        ]
    )


def based_on(step: PlannedStep, live: dict[str, Any] | None) -> None:
    """Record the live object the step is planned on (None: it does not exist)."""
    step.base_resource_version = str((live or {}).get("metadata", {}).get("resourceVersion", ""))
    step.base_digest = base_digest(live, step.changes)


def base_digest(live: dict[str, Any] | None, planned_changes: list[dict[str, Any]]) -> str:
    """What must not change between planning a step and running it: the object's state,
    except a replica count the step leaves alone. Autoscalers move replicas whenever they
    like; a plan that does not touch them is just as right after they did."""
    touches_replicas = any(c.get("path", "").startswith(_REPLICAS) for c in planned_changes)
    if live is not None and not touches_replicas and "replicas" in (live.get("spec") or {}):
        live = {**live, "spec": {k: v for k, v in live["spec"].items() if k != "replicas"}}
    return snapshots.digest(live)


_REPLICAS = "/spec/replicas"


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
                        _unstamped((before.get("metadata") or {}).get(part)),
                        _unstamped((after.get("metadata") or {}).get(part)),
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


def _unstamped(values: Any) -> Any:
    """Labels or annotations without the revision DriftControl stamps on what it applies:
    bookkeeping, not a change to approve (a step changing nothing else is already done)."""
    if isinstance(values, dict) and REVISION_ANNOTATION in values:
        return {k: v for k, v in values.items() if k != REVISION_ANNOTATION} or None
    return values


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
