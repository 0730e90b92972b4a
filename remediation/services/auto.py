"""Auto-remediation: what a policy in enforce mode does with findings as they open.

Up to `autoRemediateUpTo`, a request is made and runs without approval; above it, a
request waits for its approvers. Pinned objects are left alone. An object whose drift keeps
coming back (controllers fighting, someone re-editing) is pinned and alerted on instead of
being remediated again and again. Detect-only policies do nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from drift import git, kube
from drift.engine.normalize import ObjectKey
from drift.engine.severity import at_most
from drift.models import (
    DriftPolicy,
    Finding,
    FindingStatus,
    FindingType,
    PolicyMode,
    RemediationStrategy,
)
from drift.services import clusters, desired
from drift.services.desired import secret_hasher
from driftcontrol.exceptions import DomainError
from remediation.models import RequestTrigger
from remediation.services import pins, planning, requests

log = logging.getLogger(__name__)

# The task that calls handle_opened on a worker (remediation/tasks.py), queued by name.
HANDLE_OPENED = "remediation.auto"


def handle_opened(policy_id: int, cluster_id: int, finding_ids: Iterable[int]) -> list[int]:
    """Requests made for newly opened findings (their ids)."""
    policy = DriftPolicy.objects.select_related("source").filter(pk=policy_id).first()
    if policy is None or policy.mode != PolicyMode.ENFORCE:
        return []
    findings = list(
        Finding.objects.select_related("cluster", "policy").filter(
            pk__in=list(finding_ids), cluster_id=cluster_id, status=FindingStatus.OPEN
        )
    )
    if not findings:
        return []
    digests = _desired_digests(policy, findings[0].cluster)
    made = []
    for finding in findings:
        key = planning.key_of(finding)
        if pins.active_pin(finding.cluster, key, digests.get(key, "")) is not None:
            continue
        if flapping(policy, finding):
            made.append(_alert_flapping(policy, finding, digests.get(key, "")))
            continue
        if finding.type == FindingType.UNMANAGED and not policy.prune:
            continue  # nothing auto-remediation may do to it
        automatic = at_most(finding.severity, policy.auto_remediate_up_to)
        try:
            made.append(
                requests.request_remediation(
                    [finding],
                    policy.strategy,
                    None,
                    reason="auto-remediation",
                    trigger=RequestTrigger.AUTO,
                    approvals_required=0 if automatic else None,
                ).pk
            )
        except DomainError as refusal:
            log.warning("auto-remediation of finding %s: %s", finding.pk, refusal)
    return made


def flapping(policy: DriftPolicy, finding: Finding) -> bool:
    """Whether this drift came back `flap_count` times within the policy's window."""
    since = timezone.now() - timedelta(seconds=policy.flap_window_seconds)
    episodes = Finding.objects.filter(fingerprint=finding.fingerprint, first_seen__gte=since)
    return episodes.count() >= policy.flap_count


def _alert_flapping(policy: DriftPolicy, finding: Finding, digest: str) -> int:
    key = planning.key_of(finding)
    pins.pin(
        finding.cluster,
        key,
        f"drift came back {policy.flap_count} times within "
        f"{policy.flap_window_seconds // 60} minutes: auto-remediation stopped",
        None,
        digest,
    )
    request = requests.request_remediation(
        [finding],
        RemediationStrategy.ALERT,
        None,
        reason=f"{key} keeps drifting back (controllers fighting, or repeated edits); "
        "auto-remediation stopped for it",
        trigger=RequestTrigger.FLAPPING,
    )
    # The alert itself is high severity, whatever the drift's own severity.
    request.severity = "high" if finding.severity in ("info", "low", "medium") else finding.severity
    request.save(update_fields=["severity", "updated_at"])
    return request.pk


def _desired_digests(policy: DriftPolicy, cluster: Any) -> dict[ObjectKey, str]:
    """What Git declares now, per object (to lift pins when it changed)."""
    try:
        connection = clusters.connect(cluster)
        state = desired.for_cluster(
            desired.read_revision(policy.source), policy, connection.discover(), secret_hasher()
        )
    except (kube.KubeError, git.GitError) as error:
        log.warning("auto-remediation: cannot read desired state (%s); pins stay", error)
        return {}
    return {key: pins.desired_digest(obj) for key, obj in state.objects.items()}


def preview(policy: DriftPolicy, up_to: str, days: int = 30) -> dict[str, Any]:
    """What enforcing `up_to` would have remediated over the last `days`, from the ledger."""
    since = timezone.now() - timedelta(days=days)
    found = [
        f
        for f in Finding.objects.filter(policy=policy, first_seen__gte=since)
        .select_related("cluster")
        .order_by("-first_seen")
        if at_most(f.severity, up_to) and (f.type != FindingType.UNMANAGED or policy.prune)
    ]
    return {
        "policy": policy.name,
        "upTo": up_to,
        "days": days,
        "count": len(found),
        "findings": [
            {
                "id": f.pk,
                "cluster": f.cluster.name,
                "kind": f.kind,
                "namespace": f.namespace,
                "name": f.name,
                "type": f.type,
                "severity": f.severity,
                "firstSeen": f.first_seen.isoformat(),
                "paths": f.diff.get("paths", []),
            }
            for f in found
        ],
    }
