"""The audit table accepts inserts only: a trigger refuses UPDATE and DELETE (PostgreSQL).

Row-level and BEFORE UPDATE OR DELETE only, so TRUNCATE (the test suite's flush between
transactional tests) still works. Other databases get nothing: the hash chain still
shows any change there (``manage.py verify_audit``).
"""

from django.db import migrations

FUNCTION = "workflow_auditevent_append_only"
TRIGGER = "workflow_auditevent_append_only"


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("workflow", "AuditEvent")._meta.db_table)
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'Nhật ký chỉ được ghi thêm: % sự kiện #% bị từ chối.', TG_OP, OLD.seq;
        END;
        $$ LANGUAGE plpgsql
        """,
        None,  # no parameters: the % signs belong to RAISE
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("workflow", "AuditEvent")._meta.db_table)
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [("workflow", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger, elidable=False)]
