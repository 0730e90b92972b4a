from remediation.models.pins import ObjectPin
from remediation.models.requests import (
    DEFAULT_EXPIRY,
    FINAL_STATUSES,
    Approval,
    Decision,
    RemediationRequest,
    RequestStatus,
    RequestTrigger,
    default_expiry,
)
from remediation.models.steps import RemediationStep, StepAction, StepStatus

__all__ = [
    "DEFAULT_EXPIRY",
    "FINAL_STATUSES",
    "Approval",
    "Decision",
    "ObjectPin",
    "RemediationRequest",
    "RemediationStep",
    "RequestStatus",
    "RequestTrigger",
    "StepAction",
    "StepStatus",
    "default_expiry",
]
