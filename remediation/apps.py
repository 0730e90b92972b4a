from django.apps import AppConfig


class RemediationConfig(AppConfig):
    """Remediation requests, their plans and approvals."""

    name = "remediation"
