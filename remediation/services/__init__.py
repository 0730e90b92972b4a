"""Remediation services, used alike by the UI, the API and the CLI.

Requests and their decisions live in `requests`; plans in `planning` and the strategies
(`strategies/`); execution in `executor`, with `verification`, `rollbacks` and `pins`.
"""

from remediation.services.auto import handle_opened, preview
from remediation.services.executor import execute, resume_due
from remediation.services.pins import unpin
from remediation.services.planning import PlanError
from remediation.services.requests import (
    approve,
    cancel,
    expire_due,
    reject,
    request_remediation,
)

__all__ = [
    "PlanError",
    "approve",
    "cancel",
    "execute",
    "expire_due",
    "handle_opened",
    "preview",
    "reject",
    "request_remediation",
    "resume_due",
    "unpin",
]
