"""A scan that sees the same drift again writes one row per scope, not one per finding.

`last_seen` and `last_scan` become the finding's own sighting (`sighted_at`,
`sighted_by`); a new `ScopeSighting` row per policy and cluster records the last complete
pass, and `Finding.objects` reads a finding's last sighting as the later of the two while
it is open and follows its scope. The renamed columns keep their data and their indexes
(renamed, not rebuilt, at a million rows). The partial index on open findings by last
seen goes: the list no longer sorts open findings by the stored column alone.
"""

import django.db.models.deletion
from django.db import migrations, models

OPEN = models.Q(("status", "resolved"), _negated=True)
OLD_INDEXES = [
    models.Index(fields=["status", "severity", "-last_seen"], name="drift_findi_status_b51f37_idx"),
    models.Index(fields=["cluster", "status", "-last_seen"], name="drift_findi_cluster_f3368b_idx"),
    models.Index(fields=["fingerprint", "-last_seen"], name="drift_findi_fingerp_1c7064_idx"),
    models.Index(
        condition=OPEN, fields=["-severity_rank", "-last_seen"], name="finding_open_severity"
    ),
]
NEW_INDEXES = [
    models.Index(
        fields=["status", "severity", "-sighted_at"], name="drift_findi_status_65f5c7_idx"
    ),
    models.Index(
        fields=["cluster", "status", "-sighted_at"], name="drift_findi_cluster_c45bb2_idx"
    ),
    models.Index(fields=["fingerprint", "-sighted_at"], name="drift_findi_fingerp_585a3b_idx"),
    models.Index(
        condition=OPEN, fields=["-severity_rank", "-sighted_at"], name="finding_open_severity"
    ),
]


def restore_indexes(apps, schema_editor):
    """PostgreSQL renamed the columns under their indexes: only the names change. SQLite
    rebuilt the table without them: they are built again."""
    if schema_editor.connection.vendor == "postgresql":
        for old, new in zip(OLD_INDEXES, NEW_INDEXES, strict=True):
            if old.name != new.name:
                schema_editor.execute(f"ALTER INDEX {old.name} RENAME TO {new.name}")
        return
    finding = apps.get_model("drift", "Finding")
    for index in NEW_INDEXES:
        schema_editor.add_index(finding, index)


def unrestore_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for old, new in zip(OLD_INDEXES, NEW_INDEXES, strict=True):
            if old.name != new.name:
                schema_editor.execute(f"ALTER INDEX {new.name} RENAME TO {old.name}")
        return
    finding = apps.get_model("drift", "Finding")
    for index in NEW_INDEXES:
        schema_editor.remove_index(finding, index)


def rebuild_old_indexes(apps, schema_editor):
    """Back to last_seen on SQLite, whose rebuilt table lost the indexes."""
    if schema_editor.connection.vendor != "postgresql":
        finding = apps.get_model("drift", "Finding")
        for index in OLD_INDEXES:
            schema_editor.add_index(finding, index)


class Migration(migrations.Migration):
    dependencies = [
        ("drift", "0009_finding_autovacuum"),
    ]

    operations = [
        migrations.CreateModel(
            name="ScopeSighting",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seen_at", models.DateTimeField()),
                (
                    "cluster",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="drift.cluster",
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="drift.driftpolicy",
                    ),
                ),
                (
                    "scan",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="drift.scan",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("policy", "cluster"), name="scope_sighting_one_per_pair"
                    )
                ],
            },
        ),
        migrations.AlterModelOptions(name="finding", options={"ordering": ["-sighted_at"]}),
        migrations.RemoveIndex(model_name="finding", name="finding_open_last_seen"),
        # State forgets the indexes on the renamed columns first (SQLite rebuilds the table
        # on rename, without them); restore_indexes gives them back under their new names.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(migrations.RunPython.noop, rebuild_old_indexes)
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="finding", name=index.name)
                for index in OLD_INDEXES
            ],
        ),
        migrations.RenameField(model_name="finding", old_name="last_seen", new_name="sighted_at"),
        migrations.RenameField(model_name="finding", old_name="last_scan", new_name="sighted_by"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(restore_indexes, unrestore_indexes)],
            state_operations=[
                migrations.AddIndex(model_name="finding", index=index) for index in NEW_INDEXES
            ],
        ),
        migrations.AddField(
            model_name="finding",
            name="follows_scope",
            field=models.BooleanField(db_default=True, default=True),
        ),
        # A join on (policy, cluster), no column: nothing to do in the database (and
        # SQLite's table rebuild on the way back trips over a field without a column).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="finding",
                    name="scope",
                    field=models.ForeignObject(
                        from_fields=["policy", "cluster"],
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="drift.scopesighting",
                        to_fields=["policy", "cluster"],
                    ),
                ),
            ]
        ),
    ]
