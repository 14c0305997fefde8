"""Foreign keys lose their one-column index where a composite index leads with the same
column and serves every lookup by it, as ``trees_task.api_client_id`` did in 0016:

- ``trees_task.user_id``: ``task_user_created``, ``task_user_node``;
- ``trees_message.user_id``, ``parent_id``, ``api_client_id``: ``message_user_created``,
  ``message_children``, ``message_frontend_id_unique``;
- ``trees_textlabels.user_id``: ``text_labels_user``;
- ``trees_messagereaction.message_id``, ``user_id``: ``reaction_once_per_user``,
  ``reaction_user``;
- ``trees_messageemoji.message_id``: ``emoji_once``;
- ``trees_readywork.tree_id``: ``ready_work_tree``; and ``ready_work_lang_kind`` (lang, kind),
  which ``ready_work_kind_draw`` (lang, kind, draw) covers.

Every task is written three times (created, acked, answered) and no update of it is HOT (it
changes indexed columns), so each index on it costs three insertions a task; a message, a
review and a ranking paid for the others. ``tests/db/test_schema_indexes.py`` keeps every
foreign key led by some index. stats 0002 does the same for the two stats tables."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_fk_indexes_folded"),
        ("trees", "0016_task_client_index_folded"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="readywork",
            name="ready_work_lang_kind",
        ),
        migrations.AlterField(
            model_name="message",
            name="api_client",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.apiclient",
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="trees.message",
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="messages",
                to="accounts.user",
            ),
        ),
        migrations.AlterField(
            model_name="messageemoji",
            name="message",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="emoji_rows",
                to="trees.message",
            ),
        ),
        migrations.AlterField(
            model_name="messagereaction",
            name="message",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reactions",
                to="trees.message",
            ),
        ),
        migrations.AlterField(
            model_name="messagereaction",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reactions",
                to="accounts.user",
            ),
        ),
        migrations.AlterField(
            model_name="readywork",
            name="tree",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="trees.messagetree",
            ),
        ),
        migrations.AlterField(
            model_name="task",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tasks",
                to="accounts.user",
            ),
        ),
        migrations.AlterField(
            model_name="textlabels",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="text_labels",
                to="accounts.user",
            ),
        ),
    ]
