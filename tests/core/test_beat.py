"""Every periodic task beat is told to run exists under that name."""

from django.conf import settings

from driftcontrol.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()

    missing = sorted(
        entry["task"]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] not in app.tasks
    )

    assert missing == []
