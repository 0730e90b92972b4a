from django.apps import AppConfig
from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig


class DriftControlConfig(AppConfig):
    """The core app: roles and permissions, audit log, event outbox, system checks."""

    name = "driftcontrol"
    verbose_name = "DriftControl core"

    def ready(self) -> None:
        from driftcontrol import checks, crypto  # noqa: F401  (registers checks and signals)


class StaticFilesConfig(BaseStaticFilesConfig):
    """Collects what the app serves, not what its packages happen to ship: ReDoc (the API
    docs are Swagger UI) is 5 MB that collectstatic would otherwise hash and compress."""

    ignore_patterns = [*BaseStaticFilesConfig.ignore_patterns, "drf_spectacular_sidecar/redoc/*"]
