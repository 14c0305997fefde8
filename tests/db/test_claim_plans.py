"""``grove_claim`` reads only the tasks its counts are about, even on statistics taken when
no task was open (a quiet night, a fresh import): each count enters its index by the first
column (migration trees 0014). With the counts under one OR, such statistics made every claim
scan a partial index of open tasks whole."""

from __future__ import annotations

import pytest
from django.db import connection

from backend.trees.core.policy import TaskKind
from backend.trees.services.tasks import request_task
from tests.builders import make_client, make_tree, make_user

pytestmark = pytest.mark.django_db

CLOSED_TASKS = 20_000
OPEN_TASKS = 3_000

_INSERT_TASKS = """
INSERT INTO trees_task (id, payload_type, payload, frontend_message_id, ack, done, skipped,
    skip_reason, collective, created_at, expiry_date, api_client_id, message_tree_id,
    parent_message_id, user_id, lease_until, skipped_by_user)
SELECT gen_random_uuid(), 'label_prompter_reply', '{}', '', NULL, %(done)s, false, '', false,
    now() - %(age)s * interval '1 second', now() + interval '1 hour', %(client)s,
    %(tree)s, %(node)s, %(user)s,
    CASE WHEN %(done)s THEN NULL ELSE now() + interval '1 hour' END, false
FROM generate_series(1, %(n)s)
"""


def _task_rows_read(cursor) -> int:
    """Rows of ``trees_task`` this transaction read so far: by sequential scans and fetched
    through indexes."""
    cursor.execute(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables WHERE relname = 'trees_task'"
    )
    return int(cursor.fetchone()[0])


@pytest.mark.parametrize("kind", [TaskKind.ASSISTANT_REPLY, TaskKind.INITIAL_PROMPT])
def test_a_claim_reads_few_tasks_on_statistics_that_saw_none_open(kind):
    client = make_client()
    author, volunteer, others = (make_user(client, username=n) for n in ("a", "v", "o"))
    make_tree(author=author)  # a growing tree: its prompt needs assistant replies
    # Tasks of no tree in the index (as an import's or a removed tree's would be).
    values = {"client": client.id, "user": others.id, "tree": None, "node": None}
    with connection.cursor() as cursor:
        # The history: closed tasks.
        cursor.execute(_INSERT_TASKS, {**values, "done": True, "age": 86_400, "n": CLOSED_TASKS})
        cursor.execute("ANALYZE trees_task")  # statistics: no task open
        # Then a busy morning: other volunteers' open tasks elsewhere, recent ones.
        cursor.execute(_INSERT_TASKS, {**values, "done": False, "age": 10, "n": OPEN_TASKS})
        before = _task_rows_read(cursor)
        task = request_task(user=volunteer, kind=kind, lang="en")
        read = _task_rows_read(cursor) - before
    assert task.payload_type == kind.value
    # The request's own read and the claim: a handful of rows, not the open tasks' index.
    assert read < 100, f"the task request read {read} task rows"
