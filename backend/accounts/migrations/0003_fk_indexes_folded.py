"""``accounts_user.api_client_id`` loses its one-column index: ``user_unique_per_client``
(api_client_id, auth_method, username) leads with it. Every answered task updates its user's
activity, and that update is not HOT (``last_activity_date`` is indexed): one index fewer to
write each time. See trees 0017."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_keyed_api_key_digest"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="api_client",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="users",
                to="accounts.apiclient",
            ),
        ),
    ]
