"""The remediation resources as (prefix, viewset, basename) for the API's router."""

from __future__ import annotations

from typing import Any

from remediation.api.views import ApprovalViewSet, RemediationViewSet

VIEWSETS: list[tuple[str, Any, str]] = [
    ("remediations", RemediationViewSet, "remediation"),
    ("approvals", ApprovalViewSet, "approval"),
]
