"""Alignment findings name the rule they break (alignment.rules); an object breaking two
rules has two findings, so the rule is part of their fingerprint."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("drift", "0011_finding_open_sighting"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="rule",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("rule", ""), _negated=True),
                fields=["rule", "status"],
                name="finding_rule",
            ),
        ),
    ]
