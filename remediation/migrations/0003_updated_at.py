"""updated_at on approvals (their decision time), and on requests made to cover what
conditional UPDATEs did without touching it (start, finish, a decision, a roll-back);
indexed by (updated_at, id) for incremental sync."""

from django.db import migrations, models
from django.db.models import F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest


def backfill(apps, schema_editor):
    RemediationRequest = apps.get_model("remediation", "RemediationRequest")
    Approval = apps.get_model("remediation", "Approval")
    Approval.objects.update(updated_at=F("created_at"))
    decided = (
        Approval.objects.filter(request=OuterRef("pk"))
        .order_by()
        .values("request")
        .annotate(latest=Max("created_at"))
        .values("latest")
    )
    before = F("updated_at")
    # Greatest is NULL when any argument is (SQLite, the embedded mode): coalesce each.
    RemediationRequest.objects.update(
        updated_at=Greatest(
            before,
            Coalesce("approved_at", before),
            Coalesce("started_at", before),
            Coalesce("finished_at", before),
            Coalesce(Subquery(decided[:1]), before),
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("remediation", "0002_steps_pins_and_plans"),
    ]

    operations = [
        migrations.AddField(
            model_name="approval",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="approval",
            index=models.Index(fields=["updated_at", "id"], name="approval_updated"),
        ),
        migrations.AddIndex(
            model_name="remediationrequest",
            index=models.Index(fields=["updated_at", "id"], name="remediation_updated"),
        ),
    ]
