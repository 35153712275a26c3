"""Each audit event names how its hash was made (workflow/audit.py).

The events already written keep their unkeyed SHA-256 hashes (the chain is append-only):
the column's default marks them "sha256"; new events are HMAC-SHA256 under AUDIT_HMAC_KEY.
Adding a column fires no row trigger, so the append-only trigger of 0002 is no obstacle.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('workflow', '0003_outgoing_mail'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditevent',
            name='algorithm',
            field=models.CharField(db_default='sha256', default='sha256', max_length=40),
        ),
    ]
