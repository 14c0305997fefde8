"""``trees_task.api_client_id`` loses its one-column index: ``task_frontend_message``
(api_client_id, frontend_message_id) leads with the same column and serves every lookup by
client. Before statistics exist, the generic plan of the ack's statement took the one-column
index for the task itself and for its frontend-message check, filtering every task of the
client (see ``Task.api_client``)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_keyed_api_key_digest"),
        ("trees", "0015_first_review_routing"),
    ]

    operations = [
        migrations.AlterField(
            model_name="task",
            name="api_client",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tasks",
                to="accounts.apiclient",
            ),
        ),
    ]
