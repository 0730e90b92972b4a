"""Celery tasks for remediation: thin wrappers that take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from remediation import services
from remediation.services import auto
from remediation.services.transitions import EXECUTE


# Work that changes clusters is acknowledged late: a worker that dies mid-run gets the
# message redelivered, and the lease in the service decides who may continue.
@shared_task(name=EXECUTE, acks_late=True, ignore_result=True)
def execute(request_id: int) -> None:
    services.execute(request_id)


@shared_task(name=auto.HANDLE_OPENED, acks_late=True, ignore_result=True)
def auto_remediate(policy_id: int, cluster_id: int, finding_ids: list[int]) -> None:
    services.handle_opened(policy_id, cluster_id, finding_ids)


@shared_task(name="remediation.resume_due", ignore_result=True)
def resume_due() -> int:
    return services.resume_due()


@shared_task(name="remediation.expire_due", ignore_result=True)
def expire_due() -> int:
    return services.expire_due()
