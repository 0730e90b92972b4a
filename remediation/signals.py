"""Remediation listens to detection: new findings may be auto-remediated."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from drift.signals import findings_opened
from driftcontrol import queue
from remediation.services import auto


@receiver(findings_opened)
def auto_remediate(
    sender: Any, policy_id: int, cluster_id: int, finding_ids: list[int], **kwargs: Any
) -> None:
    """New findings go to a worker, which decides what the policy's mode allows."""
    from drift.models import DriftPolicy, PolicyMode

    if DriftPolicy.objects.filter(pk=policy_id, mode=PolicyMode.ENFORCE).exists():
        queue.after_commit(auto.HANDLE_OPENED, policy_id, cluster_id, finding_ids)
