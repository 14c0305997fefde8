"""``grove_claim``: the task claim in one round trip on PostgreSQL (services.tasks).

The function does what ``services.tasks._claim_step_by_step`` does, statement for statement:
lock the user, lock the work row (for a reply, every reply row of its tree, in id order),
count the live leases and the user's pending tasks on fresh snapshots (each statement of a
VOLATILE function sees what committed before it started, as separate statements do), then
insert the task and its journal entry. It returns 0 (claimed), 1 (the slot is gone or was
taken: try another candidate) or 2 (the user has too many pending tasks). The task row comes
as JSON with every column (``jsonb_populate_record``), so a new column of the model needs no
change here. SQLite keeps the step-by-step path.
"""

from django.db import migrations

_REPLY = "('assistant_reply', 'prompter_reply')"
_MINE = (
    "user_id = p_user AND NOT done AND NOT skipped AND expiry_date > p_now "
    "AND created_at >= p_since"
)
_LEASING = "NOT done AND NOT skipped AND lease_until > p_now"
_ON_NODE = f"{_LEASING} AND parent_message_id = w.node_id AND payload_type = w.kind"
_IN_TREE = f"{_LEASING} AND message_tree_id = w.tree_id AND payload_type IN {_REPLY}"

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
        SELECT count(*) FILTER (WHERE {_MINE}),
               count(*) FILTER (WHERE {_ON_NODE}),
               count(*) FILTER (WHERE {_IN_TREE}),
               count(*) FILTER (
                   WHERE {_MINE} AND parent_message_id = w.node_id AND payload_type = w.kind)
        INTO n_pending, n_on_node, n_in_tree, n_mine_on_node
        FROM trees_task
        WHERE ({_MINE}) OR ({_ON_NODE}) OR ({_IN_TREE});
    ELSE
        SELECT count(*) INTO n_pending FROM trees_task WHERE {_MINE};
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
    RETURN 0;
END
$$;
"""
DROP = (
    "DROP FUNCTION IF EXISTS grove_claim(uuid, bigint, uuid, boolean, timestamptz, "
    "timestamptz, integer, jsonb, jsonb, jsonb)"
)


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # "%ROWTYPE" is not a placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("trees", "0004_pending_advance")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
