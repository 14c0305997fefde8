"""PostgreSQL re-analyzes ``trees_task`` after every 5,000 changed rows, not after 10 % of them.

The task request's lease counts read partial indexes of the open tasks (``task_lease_by_node``,
``task_lease_by_tree``). With statistics taken when almost no task was open (a restore, an
import, ``seed_scale.py``: 741,756 done tasks), the planner believes those indexes empty and
scans one in full once per ready-work row: at OA's scale with 188 open tasks the read took
9-14 ms, and 5.7-5.9 ms after an ANALYZE (bench/request_latency.py). Autovacuum's default
waits for 10 % of the table to change (74,000 rows there) before it analyzes again. An
ANALYZE samples 30,000 rows (tens of milliseconds), so every 5,000 changes costs little.
"""

from django.db import migrations

SETTINGS = "autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000"


def keep_fresh(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE trees_task SET ({SETTINGS})")


def back_to_defaults(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE trees_task RESET "
            "(autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [("trees", "0008_author_prior_and_tree_quality")]

    operations = [migrations.RunPython(keep_fresh, back_to_defaults, elidable=False)]
