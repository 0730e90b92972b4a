"""Role groups, the audit chain's head row, and database triggers that keep audit append-only.

The triggers back up the model's refusal at the database level: an UPDATE or DELETE of
an audit event fails even when issued as raw SQL by anything but a superuser that
disables triggers on purpose (and `drift audit verify` catches that case).
"""

from django.db import migrations

ROLES = ("viewer", "operator", "approver", "admin")

TRIGGERS = {
    "postgresql": [
        """
        CREATE OR REPLACE FUNCTION driftcontrol_audit_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
        END;
        $$ LANGUAGE plpgsql;
        """,
        """
        CREATE TRIGGER driftcontrol_auditevent_append_only
        BEFORE UPDATE OR DELETE ON driftcontrol_auditevent
        FOR EACH ROW EXECUTE FUNCTION driftcontrol_audit_append_only();
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER driftcontrol_auditevent_no_update BEFORE UPDATE ON driftcontrol_auditevent
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END;
        """,
        """
        CREATE TRIGGER driftcontrol_auditevent_no_delete BEFORE DELETE ON driftcontrol_auditevent
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only (DELETE refused)'); END;
        """,
    ],
}

DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS driftcontrol_auditevent_append_only ON driftcontrol_auditevent",
        "DROP FUNCTION IF EXISTS driftcontrol_audit_append_only()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS driftcontrol_auditevent_no_update",
        "DROP TRIGGER IF EXISTS driftcontrol_auditevent_no_delete",
    ],
}


def create_roles_and_head(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    AuditChainHead = apps.get_model("driftcontrol", "AuditChainHead")
    AuditChainHead.objects.get_or_create(pk=1)


def remove_roles_and_head(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()
    apps.get_model("driftcontrol", "AuditChainHead").objects.filter(pk=1).delete()


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)  # the SQL holds a literal %

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("driftcontrol", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_roles_and_head, remove_roles_and_head),
        migrations.RunPython(_run(TRIGGERS), _run(DROP)),
    ]
