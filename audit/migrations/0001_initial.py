"""The audit trail's model moves here from workflow; the table stays where it is.

State only: the table ``workflow_auditevent`` (and its append-only trigger, grants, rows
and hash chain) is untouched; workflow's 0006 drops the model from its own state.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("workflow", "0005_evidence_carry_over"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("seq", models.PositiveBigIntegerField(unique=True)),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("actor_name", models.CharField(blank=True, max_length=150)),
                        ("actor_unit", models.CharField(blank=True, max_length=200)),
                        ("actor_role", models.CharField(blank=True, max_length=100)),
                        ("action", models.CharField(db_index=True, max_length=30)),
                        ("reason", models.TextField(blank=True)),
                        ("data", models.JSONField(blank=True, default=dict)),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("hash", models.CharField(max_length=64)),
                        ("algorithm", models.CharField(db_default="sha256", default="sha256", max_length=40)),
                        ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("period_task", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="events", to="workflow.periodtask")),
                        ("step", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="events", to="workflow.step")),
                    ],
                    options={
                        "verbose_name": "sự kiện nhật ký",
                        "verbose_name_plural": "nhật ký",
                        "db_table": "workflow_auditevent",
                        "ordering": ["seq"],
                        "indexes": [models.Index(fields=["actor", "seq"], name="event_actor_seq")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
