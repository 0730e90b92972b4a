from django.apps import AppConfig


class RemediationConfig(AppConfig):
    """Remediation requests, their plans and approvals."""

    name = "remediation"

    def ready(self) -> None:
        from remediation import signals  # noqa: F401  (connects auto-remediation)
