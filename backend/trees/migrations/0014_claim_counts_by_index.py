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

_REPLY = "('assistant_reply', 'prompter_reply')"
_OPEN = "NOT done AND NOT skipped AND expiry_date > p_now"
_LEASING = "NOT done AND NOT skipped AND lease_until > p_now"

CREATE = f"""
CREATE OR REPLACE FUNCTION grove_claim(
    p_user uuid, p_row bigint, p_tree uuid, p_reply boolean, p_now timestamptz,
    p_since timestamptz, p_max_pending integer, p_child_ids jsonb, p_task jsonb,
    p_journal jsonb
) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w trees_readywork%ROWTYPE;
    n_pending integer;
    n_on_node integer := 0;
    n_in_tree integer := 0;
    n_mine_on_node integer := 0;
BEGIN
    PERFORM 1 FROM accounts_user WHERE id = p_user FOR NO KEY UPDATE;
    IF p_row IS NOT NULL THEN
        PERFORM 1 FROM trees_readywork
        WHERE id = p_row OR (p_reply AND tree_id = p_tree AND kind IN {_REPLY})
        ORDER BY id FOR UPDATE;
        SELECT * INTO w FROM trees_readywork WHERE id = p_row;
        IF NOT FOUND OR (p_child_ids IS NOT NULL AND w.child_ids IS DISTINCT FROM p_child_ids)
        THEN
            RETURN 1;
        END IF;
        SELECT count(*) FILTER (WHERE {_OPEN}),
               count(*) FILTER (
                   WHERE {_OPEN} AND parent_message_id = w.node_id AND payload_type = w.kind)
        INTO n_pending, n_mine_on_node
        FROM trees_task WHERE user_id = p_user AND created_at >= p_since;
        SELECT count(*) INTO n_on_node FROM trees_task
        WHERE message_tree_id = w.tree_id AND parent_message_id = w.node_id
            AND payload_type = w.kind AND {_LEASING};
        IF p_reply THEN
            SELECT count(*) INTO n_in_tree FROM trees_task
            WHERE message_tree_id = w.tree_id AND payload_type IN {_REPLY} AND {_LEASING};
        END IF;
    ELSE
        SELECT count(*) FILTER (WHERE {_OPEN}) INTO n_pending
        FROM trees_task WHERE user_id = p_user AND created_at >= p_since;
    END IF;
    IF n_pending >= p_max_pending THEN
        RETURN 2;
    END IF;
    IF p_row IS NOT NULL AND (
        n_mine_on_node > 0 OR n_on_node >= w.slots
        OR (p_reply AND n_in_tree >= coalesce(w.tree_room, 0))
    ) THEN
        RETURN 1;
    END IF;
    INSERT INTO trees_task SELECT * FROM jsonb_populate_record(NULL::trees_task, p_task);
    INSERT INTO trees_journalentry
        (event_type, payload, message_tree_id, message_id, user_id, api_client_id, actor,
         created_at)
    SELECT event_type, payload, message_tree_id, message_id, user_id, api_client_id, actor,
        created_at
    FROM jsonb_populate_record(NULL::trees_journalentry, p_journal);
    IF p_row IS NOT NULL THEN
        UPDATE trees_readywork SET draw = random() WHERE id = p_row;
    END IF;
    RETURN 0;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("trees", "0013_always_approvers")]

    operations = [
        migrations.RunPython(_CLAIM._on_postgresql(CREATE), _CLAIM._on_postgresql(_PREVIOUS.CREATE))
    ]
