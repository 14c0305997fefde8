"""A user's pending tasks are counted from their open tasks (``task_user_open``), not from
every task they were handed within ``recent_tasks_span_sec``.

The task request's read and ``grove_claim`` each counted the user's pending tasks over the
user's recent tasks (``task_user_created``), testing "open" on every row: a volunteer who
answers quickly has hundreds of recent tasks, almost all done. After a 16-client benchmark
run (EXPLAIN ANALYZE of the read for one of its users): 446 rows fetched and tested, 101
buffers and 0.75 ms of the read's 1.3 ms for a count of 0. The partial index holds the open
tasks only, and both counts now name its condition ("NOT done AND NOT skipped"), keyed by the
user. Its condition also names the user ("user_id IS NOT NULL", which a count by user
implies): the lease counts' conditions imply the rest of it, and on statistics that saw no
open task the claim's lease counts scanned this index whole instead of task_lease_by_tree.
Same answers as before.
"""

import importlib

from django.db import migrations, models

_CLAIM = importlib.import_module("backend.trees.migrations.0005_claim_function")
_PREVIOUS = importlib.import_module("backend.trees.migrations.0014_claim_counts_by_index")

# Each of 0014's counts of the user's tasks, and what it becomes: the open ones by the index,
# the expiry tested in the aggregate.
_REWRITES = {
    """        SELECT count(*) FILTER (WHERE NOT done AND NOT skipped AND expiry_date > p_now),
               count(*) FILTER (
                   WHERE NOT done AND NOT skipped AND expiry_date > p_now AND parent_message_id = w.node_id AND payload_type = w.kind)
        INTO n_pending, n_mine_on_node
        FROM trees_task WHERE user_id = p_user AND created_at >= p_since;""": """        SELECT count(*) FILTER (WHERE expiry_date > p_now),
               count(*) FILTER (
                   WHERE expiry_date > p_now AND parent_message_id = w.node_id AND payload_type = w.kind)
        INTO n_pending, n_mine_on_node
        FROM trees_task
        WHERE user_id = p_user AND created_at >= p_since AND NOT done AND NOT skipped;""",
    """        SELECT count(*) FILTER (WHERE NOT done AND NOT skipped AND expiry_date > p_now) INTO n_pending
        FROM trees_task WHERE user_id = p_user AND created_at >= p_since;""": """        SELECT count(*) FILTER (WHERE expiry_date > p_now) INTO n_pending
        FROM trees_task
        WHERE user_id = p_user AND created_at >= p_since AND NOT done AND NOT skipped;""",
}


def _rewritten(sql: str) -> str:
    for old, new in _REWRITES.items():
        if old not in sql:
            raise RuntimeError(f"0014's claim function has no count {old!r}")
        sql = sql.replace(old, new)
    return sql


CREATE = _rewritten(_PREVIOUS.CREATE)


class Migration(migrations.Migration):
    dependencies = [("trees", "0019_message_children_by_user")]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("done", False), ("skipped", False), ("user__isnull", False)),
                fields=["user", "created_at"],
                name="task_user_open",
            ),
        ),
        migrations.RunPython(
            _CLAIM._on_postgresql(CREATE), _CLAIM._on_postgresql(_PREVIOUS.CREATE)
        ),
    ]
