"""A task found by its id reads that task, whatever the plan was made on.

Grove's statements are prepared once per connection with PostgreSQL's generic plan
(``GROVE_DB_PLAN_CACHE_MODE``), and a pooled connection opened with a new deployment keeps the
plan it made while the tables were nearly empty until an ANALYZE replaces it. Seen in
``bench/cycles.py`` (auto_explain, a server without autovacuum): the ack and the answer's task
lock, ``id = ... AND api_client_id = ...``, had been planned on ``task_frontend_message``
(api_client_id, frontend_message_id) with only the client as its condition, so each one read
every task of the API client (1,300-1,700 buffers a call after 2,000 cycles, growing with the
table). A frontend is one API client: at OA's scale that is every task ever handed out.

Here each statement is prepared on a table holding one task, the way a new connection does,
then run once the client has thousands more."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from backend.trees import selectors
from backend.trees.models import Task
from backend.trees.services import task_lifecycle
from tests.builders import add_reply, make_client, make_tree, make_user
from tests.bulk_rows import insert_prompts, insert_tasks, rows_read

pytestmark = pytest.mark.django_db

OTHER_TASKS = 2_000


def _prepare_while_small(sql: str, first: dict | list):
    """Run ``sql`` once as a prepared statement, its generic plan made now (while the client
    has one task); the psycopg connection and the statement to run it again with."""
    raw = connection.connection
    # A statement of its own (this comment): not one another test prepared on this connection.
    sql = "/* test_stale_plans */ " + sql
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    raw.execute(sql, first, prepare=True).fetchall()
    return raw, sql


@pytest.fixture
def one_task():
    client = make_client()
    user = make_user(client)
    now = timezone.now()
    task = Task.objects.create(
        payload_type="label_initial_prompt",
        payload={"kind": "label_initial_prompt", "lang": "en"},
        user=user,
        api_client=client,
        created_at=now,
        expiry_date=now + timedelta(days=1),
        lease_until=now + timedelta(minutes=5),
    )
    return client, user, task


def _grow(client, user) -> None:
    insert_tasks(client=client, user=user, n=OTHER_TASKS, done=True, age_seconds=0)


def test_the_ack_reads_its_task_only(one_task):
    client, user, task = one_task
    now = timezone.now()

    def values(task_id):
        return {
            "task_id": task_id,
            "api_client_id": client.id,
            "user_id": user.id,
            "auth_method": None,
            "username": None,
            "frontend_message_id": f"fm-{task_id}",
            "now": now,
        }

    raw, sql = _prepare_while_small(task_lifecycle._ACK_IN_ONE_STATEMENT, values(uuid.uuid4()))
    _grow(client, user)
    before = rows_read("trees_task")
    acked = raw.execute(sql, values(task.id), prepare=True).fetchall()
    read = rows_read("trees_task") - before
    assert len(acked) == 1  # the ack went through
    assert read < 10, f"the ack read {read} tasks of its client"


def test_the_task_lock_reads_its_task_only(one_task):
    client, user, task = one_task
    first_sql, first = task_lifecycle._LOCKED_TASK.statement({"task_id": uuid.uuid4()})
    raw, sql = _prepare_while_small(first_sql, first)
    _grow(client, user)
    _, params = task_lifecycle._LOCKED_TASK.statement({"task_id": task.id})
    before = rows_read("trees_task")
    found = raw.execute(sql, params, prepare=True).fetchall()
    read = rows_read("trees_task") - before
    assert len(found) == 1
    assert read < 10, f"the task lock read {read} tasks of its client"
    # Another client's task stays unknown to this client.
    other = make_client()
    with pytest.raises(task_lifecycle.TaskNotFound):
        task_lifecycle.open_task_for_update(task.id, None, timezone.now(), api_client_id=other.id)


@pytest.mark.parametrize("ranking", [False, True], ids=["path", "path and replies"])
def test_a_tasks_conversation_reads_its_path_only(ranking):
    """The conversation a task shows (read with every claim): its path's messages, and a
    ranking's replies, by key, not a scan of ``trees_message`` planned while the table was
    small."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE trees_message CASCADE")  # in the test's transaction
    client = make_client()
    author = make_user(client)
    prompt = make_tree(author=author)
    reply = add_reply(prompt, author=author)
    leaf = add_reply(reply, author=author)
    replies = [add_reply(leaf, author=author) for _ in range(3)] if ranking else []
    sql, params = selectors.conversation_statement(
        leaf.id, viewer_id=author.id, also=[r.id for r in replies]
    )
    raw, sql = _prepare_while_small(sql, params)
    insert_prompts(tree_id=prompt.message_tree_id, user=author, n=2_000)
    before = rows_read("trees_message")
    rows = raw.execute(sql, params, prepare=True).fetchall()
    read = rows_read("trees_message") - before
    path, _emojis, others = selectors.conversation_from_rows(
        sorted(rows, key=lambda row: row[-1], reverse=True)
    )
    assert [m.id for m in path] == [prompt.id, reply.id, leaf.id]
    assert set(others) == {r.id for r in replies}
    assert read < 20, f"the conversation read {read} messages"
