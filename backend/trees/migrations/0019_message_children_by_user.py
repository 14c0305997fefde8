"""``message_children`` (parent, review_result) becomes ``message_children_by_user`` (parent,
user). A task request checks, for each ready-work row it reads, that the user has not already
answered the row's parent (``work_queries._not_excluded``): parent and user bound. On a table
not analyzed yet, once 0017 had folded ``parent_id``'s own index, the planner took
``message_user_created`` for that check and read every message of the user per row. EXPLAIN
of 15 sampled reads after a 16-client run: 695 buffers a read, 327 with the one-column index
back, 312 with this one (344 against 359 once analyzed). A parent's children are few, so
listing them by parent alone still reads this index."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_user_activity_unindexed'),
        ('trees', '0018_ready_work_node_index_folded'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='message',
            name='message_children',
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(fields=['parent', 'user'], name='message_children_by_user'),
        ),
    ]
