"""``user_last_activity`` goes: every answered task stamps its user's ``last_activity_date``,
and while the column was indexed that update could never be HOT, so it wrote a new entry into
each of the table's four indexes. WAL of a 16-client run (pg_walinspect): 529 updates of users
in a window of 505 cycles, each with four btree insertions. Only the streak job
(``backend.stats.streaks``) filters on the column, over all users, where a scan serves."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_fk_indexes_folded'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='user',
            name='user_last_activity',
        ),
    ]
