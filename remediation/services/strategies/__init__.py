"""Remediation strategies, looked up by name: a module each, and a line in REGISTRY."""

from __future__ import annotations

from drift.models import RemediationStrategy
from driftcontrol.exceptions import DomainError
from remediation.models import RemediationRequest
from remediation.services.strategies.alert import Alert
from remediation.services.strategies.base import Strategy
from remediation.services.strategies.rollback import Rollback
from remediation.services.strategies.sync import Sync

REGISTRY: dict[str, type[Strategy]] = {
    RemediationStrategy.SYNC: Sync,
    RemediationStrategy.ROLLBACK: Rollback,
    RemediationStrategy.ALERT: Alert,
}


def get(name: str) -> type[Strategy]:
    """The strategy called ``name``; one that does not exist is refused."""
    try:
        return REGISTRY[name]
    except KeyError:
        *others, last = REGISTRY
        raise DomainError(f"unknown strategy {name!r}; use {', '.join(others)} or {last}") from None


def for_request(request: RemediationRequest) -> Strategy:
    """The request's strategy, to plan it or to execute it once."""
    return get(request.strategy)(request)


__all__ = ["REGISTRY", "Strategy", "for_request", "get"]
