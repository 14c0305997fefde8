"""``grove_claim`` counts through the index each count has, whatever the statistics say.

The claim counted the user's pending tasks and the node's and the tree's live leases in one
scan of ``trees_task`` under an OR of the three conditions, each of which implied the
partial indexes' condition (not done, not skipped). With statistics taken when no task was
open (a quiet night, a fresh import), the generic plan scanned one partial index whole and
filtered: every open task's entry, per claim, until the next ANALYZE (at OA's scale with
4,000 tasks opened after the ANALYZE: 3.8 ms and ~2,000 buffers per claim; 0.5 ms once
analysed). Now each count is its own statement:

- the user's pending tasks (and those on this node) from the user's recent tasks
  (``task_user_created``), "open" tested in the aggregate's FILTER, so no partial index
  can serve it;
- the node's and the tree's leases through ``task_lease_by_tree``, the node's naming its
  tree (a task's tree is its node's), so either lease index is entered by its first column.

Same answers as before (0 claimed, 1 slot gone, 2 too many pending); measured on the same
stale statistics: 0.47 ms, 69 buffers.
"""

import importlib

from django.db import migrations

_CLAIM = importlib.import_module("backend.trees.migrations.0005_claim_function")
_PREVIOUS = importlib.import_module("backend.trees.migrations.0012_ready_work_draw")

_OPEN = "NOT done AND NOT skipped AND expiry_date > p_now"
_COUNTS = f"""        SELECT count(*) FILTER (WHERE {_OPEN}),
               count(*) FILTER (
                   WHERE {_OPEN} AND parent_message_id = w.node_id AND payload_type = w.kind)
        INTO n_pending, n_mine_on_node
        FROM trees_task WHERE user_id = p_user AND created_at >= p_since;
        SELECT count(*) INTO n_on_node FROM trees_task
        WHERE message_tree_id = w.tree_id AND parent_message_id = w.node_id
            AND payload_type = w.kind AND {_CLAIM._LEASING};
        IF p_reply THEN
            SELECT count(*) INTO n_in_tree FROM trees_task
            WHERE message_tree_id = w.tree_id AND payload_type IN {_CLAIM._REPLY}
                AND {_CLAIM._LEASING};
        END IF;
    ELSE
        SELECT count(*) FILTER (WHERE {_OPEN}) INTO n_pending
        FROM trees_task WHERE user_id = p_user AND created_at >= p_since;
"""
# 0012's function with its counts (from the first count to the ELSE branch's end) replaced.
_FIRST_COUNT = "        SELECT count(*) FILTER (WHERE "
_AFTER_COUNTS = "    END IF;\n    IF n_pending >= p_max_pending THEN"
_BEGIN = _PREVIOUS.CREATE.index(_FIRST_COUNT)
_END = _PREVIOUS.CREATE.index(_AFTER_COUNTS)
CREATE = _PREVIOUS.CREATE[:_BEGIN] + _COUNTS + _PREVIOUS.CREATE[_END:]


class Migration(migrations.Migration):
    dependencies = [("trees", "0013_always_approvers")]

    operations = [
        migrations.RunPython(_CLAIM._on_postgresql(CREATE), _CLAIM._on_postgresql(_PREVIOUS.CREATE))
    ]
