"""AuditEvent now belongs to the ``audit`` app (its 0001); state only, the table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0005_evidence_carry_over"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
