from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The web pages: overview, findings, clusters, policies, scans, trends, remediations,
    approvals, tokens, webhooks and system status."""

    name = "dashboard"
    verbose_name = "Dashboard"
