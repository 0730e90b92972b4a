"""Pages of the core app: system status, API tokens, webhook subscriptions, errors."""

from driftcontrol.views.system import (
    forbidden,
    healthz,
    not_found,
    readyz,
    server_error,
    system_status,
)

__all__ = ["forbidden", "healthz", "not_found", "readyz", "server_error", "system_status"]
