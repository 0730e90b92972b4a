"""Finding.updated_at, for incremental sync, with a backfill: the latest of when the
finding opened, was resolved, acknowledged, or last triaged (from the audit trail)."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import CharField, Max, OuterRef, Subquery
from django.db.models.functions import Cast, Coalesce, Greatest


def backfill(apps, schema_editor):
    Finding = apps.get_model("drift", "Finding")
    AuditEvent = apps.get_model("driftcontrol", "AuditEvent")
    # Suppressions, reopenings and tickets leave no timestamp on the row: the audit trail
    # has them (on the (object_type, object_id) index).
    triaged = (
        AuditEvent.objects.filter(
            object_type="drift.finding", object_id=Cast(OuterRef("pk"), CharField())
        )
        .order_by()
        .values("object_id")
        .annotate(latest=Max("created_at"))
        .values("latest")
    )
    first = models.F("first_seen")
    # Greatest is NULL when any argument is (SQLite, the embedded mode): coalesce each.
    Finding.objects.update(
        updated_at=Greatest(
            first,
            Coalesce("resolved_at", first),
            Coalesce("acknowledged_at", first),
            Coalesce(Subquery(triaged[:1]), first),
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("drift", "0006_finding_recurrence"),
        ("driftcontrol", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="updated_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(fields=["updated_at", "id"], name="finding_updated"),
        ),
    ]
