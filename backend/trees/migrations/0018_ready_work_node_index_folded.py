"""``trees_readywork.node_id`` loses its one-column index: the unique ``ready_work_node``
(node_id, kind) WHERE node_id IS NOT NULL serves every lookup by node, since ``node_id = x``
implies the condition. A claim moves its row to a new random place (``draw``, indexed), so the
update is not HOT and writes every index of the table again: one fewer now."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trees', '0017_fk_indexes_folded'),
    ]

    operations = [
        migrations.AlterField(
            model_name='readywork',
            name='node',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='trees.message'),
        ),
    ]
