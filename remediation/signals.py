from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from drift.signals import findings_opened
from driftcontrol.queue import after_commit


@receiver(findings_opened)
def auto_remediate(
    sender: Any, policy_id: int, cluster_id: int, finding_ids: list[int], **kwargs: Any
) -> None:
    """New findings go to a worker, which decides what the policy's mode allows."""
    from drift.models import DriftPolicy, PolicyMode
    from remediation import tasks

    if DriftPolicy.objects.filter(pk=policy_id, mode=PolicyMode.ENFORCE).exists():
        after_commit(tasks.auto_remediate, policy_id, cluster_id, finding_ids)
