"""The app configurations Django runs: the core's ready() registers its system checks and
signals, and static files are collected by the project's own configuration."""

from __future__ import annotations

from django.apps import apps
from django.core import checks

from driftcontrol.apps import DriftControlConfig, StaticFilesConfig


def test_the_core_app_runs_its_own_configuration() -> None:
    assert type(apps.get_app_config("driftcontrol")) is DriftControlConfig
    assert "driftcontrol" in checks.registry.registry.tags_available(deployment_checks=True)


def test_static_files_use_the_projects_configuration() -> None:
    config = apps.get_app_config("staticfiles")

    assert type(config) is StaticFilesConfig
    assert "drf_spectacular_sidecar/redoc/*" in config.ignore_patterns
