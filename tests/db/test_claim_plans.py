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
from tests.bulk_rows import insert_tasks, rows_read

pytestmark = pytest.mark.django_db

CLOSED_TASKS = 20_000
OPEN_TASKS = 3_000


@pytest.mark.parametrize("kind", [TaskKind.ASSISTANT_REPLY, TaskKind.INITIAL_PROMPT])
def test_a_claim_reads_few_tasks_on_statistics_that_saw_none_open(kind):
    client = make_client()
    author, volunteer, others = (make_user(client, username=n) for n in ("a", "v", "o"))
    make_tree(author=author)  # a growing tree: its prompt needs assistant replies
    # Tasks of no tree in the index (as an import's or a removed tree's would be).
    # The history: closed tasks.
    insert_tasks(client=client, user=others, n=CLOSED_TASKS, done=True, age_seconds=86_400)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trees_task")  # statistics: no task open
    # Then a busy morning: other volunteers' open tasks elsewhere, recent ones.
    insert_tasks(client=client, user=others, n=OPEN_TASKS, done=False, age_seconds=10)
    before = rows_read("trees_task")
    task = request_task(user=volunteer, kind=kind, lang="en")
    read = rows_read("trees_task") - before
    assert task.payload_type == kind.value
    # The request's own read and the claim: a handful of rows, not the open tasks' index.
    assert read < 100, f"the task request read {read} task rows"


USERS_RECENT_TASKS = 3_000


@pytest.mark.parametrize("kind", [TaskKind.ASSISTANT_REPLY, TaskKind.RANDOM])
def test_a_task_request_counts_the_users_open_tasks_only(kind):
    """The user's pending count (the request's read and the claim's) reads the user's open
    tasks (task_user_open), not every task the user was handed within recent_tasks_span_sec:
    a quick volunteer's hundreds, almost all done. Statistics taken with none open, as above,
    and other volunteers' open tasks arriving after them."""
    client = make_client()
    author, volunteer, others = (make_user(client, username=n) for n in ("a", "v", "o"))
    make_tree(author=author)
    insert_tasks(client=client, user=others, n=CLOSED_TASKS // 4, done=True, age_seconds=86_400)
    # The volunteer's last minute: many tasks, all answered, none of this tree.
    insert_tasks(client=client, user=volunteer, n=USERS_RECENT_TASKS, done=True, age_seconds=30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trees_task")
    insert_tasks(client=client, user=others, n=OPEN_TASKS // 3, done=False, age_seconds=10)
    before = rows_read("trees_task")
    task = request_task(user=volunteer, kind=kind, lang="en")
    read = rows_read("trees_task") - before
    assert task.payload_type in {TaskKind.ASSISTANT_REPLY.value, TaskKind.INITIAL_PROMPT.value}
    assert read < 100, f"the task request read {read} task rows"
