"""``Task.skipped_by_user``: a user's skip is a flag, not the reason text.

The per-user exclusion ("never offer a node the user skipped") told a user's nack from
Grove's own closes by comparing ``skip_reason`` with "expired" and "returned", so a user who
typed one of those words as their reason was offered the node again. The column is added with
a database default (false), so processes of the previous release keep inserting tasks during
the deploy. Existing skips are marked by the only record there is, the reason text.
"""

from django.db import migrations, models

BACKFILL = (
    "UPDATE trees_task SET skipped_by_user = TRUE "
    "WHERE skipped AND skip_reason NOT IN ('expired', 'returned')"
)


class Migration(migrations.Migration):
    dependencies = [("trees", "0009_task_statistics_kept_fresh")]

    operations = [
        migrations.AddField(
            model_name="task",
            name="skipped_by_user",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
