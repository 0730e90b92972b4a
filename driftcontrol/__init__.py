"""DriftControl: the Django project and its core app (roles, audit log, outbox)."""

from driftcontrol.celery import app as celery_app

__all__ = ["celery_app"]
