from django.apps import AppConfig
from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig


class DriftControlConfig(AppConfig):
    """The core app: roles and permissions, audit log, event outbox, system checks."""

    name = "driftcontrol"
    verbose_name = "DriftControl core"
    # This module holds more than one AppConfig: without this, Django would pick none for
    # "driftcontrol" and ready() (checks, signals) would never run.
    default = True

    def ready(self) -> None:
        from driftcontrol import checks, crypto  # noqa: F401  (registers checks and signals)


class StaticFilesConfig(BaseStaticFilesConfig):
    """Collects what the app serves, not what its packages happen to ship: ReDoc (the API
    docs are Swagger UI) is 5 MB that collectstatic would otherwise hash and compress."""

    default = False  # installed by its dotted path, as "driftcontrol.apps.StaticFilesConfig"
    ignore_patterns = [*BaseStaticFilesConfig.ignore_patterns, "drf_spectacular_sidecar/redoc/*"]
