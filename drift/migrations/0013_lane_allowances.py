"""What a lane's workloads may use: image registries, service accounts and Secrets
(alignment's lane rules). Empty lists restrict nothing, so existing lanes keep working."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("drift", "0012_finding_rule"),
    ]

    operations = [
        migrations.AddField(
            model_name="lane",
            name="registries",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="image registry prefixes its workloads may pull from",
            ),
        ),
        migrations.AddField(
            model_name="lane",
            name="secrets",
            field=models.JSONField(
                blank=True, default=list, help_text="Secret name globs its workloads may use"
            ),
        ),
        migrations.AddField(
            model_name="lane",
            name="service_accounts",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="service account name globs its workloads may run as",
            ),
        ),
    ]
