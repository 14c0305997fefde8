"""``stats_userstats.user_id`` and ``stats_trollstats.user_id`` lose their one-column index:
their unique (user, time_frame) constraints lead with it. See trees 0017."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_fk_indexes_folded"),
        ("stats", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="trollstats",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="troll_stats",
                to="accounts.user",
            ),
        ),
        migrations.AlterField(
            model_name="userstats",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="stats",
                to="accounts.user",
            ),
        ),
    ]
