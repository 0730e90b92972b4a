from django.apps import AppConfig


class DriftConfig(AppConfig):
    """Clusters, lanes, Git sources, drift policies, scans and findings."""

    name = "drift"
    verbose_name = "Drift detection"
