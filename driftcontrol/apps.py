from django.apps import AppConfig


class DriftControlConfig(AppConfig):
    """The core app: roles and permissions, audit log, event outbox, system checks."""

    name = "driftcontrol"
    verbose_name = "DriftControl core"

    def ready(self) -> None:
        from driftcontrol import checks, crypto  # noqa: F401  (registers checks and signals)
