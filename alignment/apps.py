from django.apps import AppConfig


class AlignmentConfig(AppConfig):
    """Alignment verification: lane, sync, policy and reference rules over what a scan
    read (live) and what Git would deploy (desired). The rules are pure (alignment.rules)."""

    name = "alignment"
    default_auto_field = "django.db.models.BigAutoField"
