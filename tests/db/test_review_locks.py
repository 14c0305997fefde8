"""Reviews (and rankings) of one tree do not wait for each other; the tree's state change waits.

A review share-locks its tree's row (``interactions._review_target``); the advance job
takes FOR NO KEY UPDATE. Two volunteers reviewing replies of one busy tree used to queue on
the tree's row."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from backend.trees.core.policy import TaskKind
from backend.trees.models import Message, MessageReaction, ReadyWork, TextLabels
from backend.trees.services.interactions import submit_labels, submit_ranking
from backend.trees.services.tasks import request_task
from backend.trees.services.trees import advance_tree
from tests.builders import (
    GOOD_REVIEW,
    add_reply,
    make_client,
    make_ranking_tree,
    make_tree,
    make_user,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'", reason="SQLite has no row locks to wait on"
    ),
]


def _review(task, user) -> None:
    labels = {k: v for k, v in GOOD_REVIEW.items() if k in task.payload["valid_labels"]}
    submit_labels(task_id=task.id, user=user, message_id=task.payload["message_id"], labels=labels)


def _lock_timeout(seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")


def _first_held_open_second_passes_advance_waits(first, second, tree_id) -> None:
    """Run ``first`` in a transaction another thread holds open; meanwhile ``second`` must
    not wait for it (2 s lock timeout) and the tree's advance must (0.5 s lock timeout)."""
    first_stored, finish_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first_held_open():
        try:
            with transaction.atomic():
                first()
                first_stored.set()
                finish_first.wait(timeout=30)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_stored.set()
        finally:
            connection.close()

    holder = threading.Thread(target=first_held_open)
    holder.start()
    try:
        assert first_stored.wait(timeout=30) and not errors, errors
        with transaction.atomic():  # the second does not wait for the first
            _lock_timeout(2)
            second()
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            _lock_timeout(0.5)  # the tree may not change state under the first
            advance_tree(tree_id=tree_id)
    finally:
        finish_first.set()
        holder.join(timeout=30)
    assert not errors, errors


def test_a_review_in_flight_holds_off_the_advance_but_not_another_review():
    client = make_client()
    prompt = make_tree(author=make_user(client))  # growing
    users = [make_user(client) for _ in range(2)]
    # Two replies in review, each by the other user: each user can review only one of them.
    replies = [add_reply(prompt, author=author, review_result=None) for author in users[::-1]]
    kind = TaskKind.LABEL_ASSISTANT_REPLY
    tasks = [request_task(user=u, kind=kind, lang="en") for u in users]
    assert [t.payload["message_id"] for t in tasks] == [str(r.id) for r in replies]
    _first_held_open_second_passes_advance_waits(
        lambda: _review(tasks[0], users[0]),
        lambda: _review(tasks[1], users[1]),
        prompt.message_tree_id,
    )


def test_a_ranking_in_flight_holds_off_the_advance_but_not_a_ranking_of_another_parent():
    """Rankings of one tree share-lock it as reviews do: with FOR NO KEY UPDATE, every
    ranker of a tree in ranking queued behind the others' whole transactions
    (pg_stat_activity at 16 clients: most lock waits were on tree rows, behind rankings'
    open transactions). Two rankings of one parent still meet on its rows (the replies'
    counts, its ready-work row), for their last statement only."""
    client = make_client()
    repliers = [make_user(client) for _ in range(2)]
    prompt = make_ranking_tree(author=make_user(client), repliers=repliers)
    reply = Message.objects.filter(parent_id=prompt.id).order_by("created_at").first()
    inner = add_reply(reply, author=make_user(client), review_result=True)
    for author in repliers:
        add_reply(inner, author=author, review_result=True)
    # The two parents' rankings are one kind: rankers are drawn until one gets each.
    rankers, tasks = [], []
    for _ in range(30):
        user = make_user(client)
        task = request_task(user=user, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
        if task.parent_message_id not in [t.parent_message_id for t in tasks]:
            rankers.append(user)
            tasks.append(task)
        if len(tasks) == 2:
            break
    assert {t.parent_message_id for t in tasks} == {prompt.id, inner.id}
    _first_held_open_second_passes_advance_waits(
        lambda: submit_ranking(task_id=tasks[0].id, user=rankers[0], ranking=[0, 1]),
        lambda: submit_ranking(task_id=tasks[1].id, user=rankers[1], ranking=[1, 0]),
        prompt.message_tree_id,
    )
    counts = Message.objects.filter(parent_id__in=[prompt.id, inner.id]).values_list(
        "ranking_count", flat=True
    )
    assert sorted(counts) == [1, 1, 1, 1]
    assert MessageReaction.objects.filter(message_id__in=[prompt.id, inner.id]).count() == 2


def _row_locked(table: str, row_id) -> bool:
    """Whether another transaction holds a lock on the row that FOR UPDATE would wait for."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [row_id])
        return False
    except OperationalError:
        return True


def test_an_answer_locks_its_task_then_its_user_then_its_tree():
    """The user's activity stamp goes with the task's lock in one statement: the order of
    locks every service keeps (task, user, tree) is unchanged. While another transaction
    holds the user's row, the review waits holding its task and nothing of the tree."""
    client = make_client()
    prompt = make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    reviewer = make_user(client)
    task = request_task(user=reviewer, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en")
    user_held, release_user, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_user():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM accounts_user WHERE id = %s FOR UPDATE", [reviewer.id]
                )
                user_held.set()
                release_user.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
            user_held.set()
        finally:
            connection.close()

    def review():
        try:
            _review(task, reviewer)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=hold_user), threading.Thread(target=review)]
    threads[0].start()
    try:
        assert user_held.wait(timeout=30) and not errors, errors
        threads[1].start()
        with connection.cursor() as cursor:  # until the review waits for the user's row
            for _ in range(300):
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND query LIKE %s",
                    ["WITH grove_first AS (UPDATE accounts_user%"],
                )
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the review never waited for the user's row")
        assert _row_locked("trees_task", task.id)
        assert not _row_locked("trees_messagetree", prompt.message_tree_id)
        assert not done.is_set()
    finally:
        release_user.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors
    assert TextLabels.objects.filter(task_id=task.id, user=reviewer).exists()
    reviewer.refresh_from_db()
    assert reviewer.last_activity_date is not None


def test_rankings_of_one_parent_at_once_all_land_without_a_deadlock():
    """Rankers of one parent share its tree's lock and change the same rows (each reply's
    count, the parent's ready-work row): their writes take those rows in one order, so any
    number of them at once all commit, counted once each."""
    client = make_client()
    repliers = [make_user(client) for _ in range(3)]
    prompt = make_ranking_tree(author=make_user(client), repliers=repliers)
    rankers = [make_user(client) for _ in range(3)]
    tasks = [request_task(user=u, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en") for u in rankers]
    assert {t.parent_message_id for t in tasks} == {prompt.id}
    orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0]]
    start = threading.Barrier(len(tasks))
    errors: list[BaseException] = []

    def rank(index: int) -> None:
        try:
            start.wait(timeout=30)
            submit_ranking(task_id=tasks[index].id, user=rankers[index], ranking=orders[index])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rank, args=(i,)) for i in range(len(tasks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    counts = Message.objects.filter(parent_id=prompt.id).values_list("ranking_count", flat=True)
    assert sorted(counts) == [3, 3, 3]
    assert MessageReaction.objects.filter(message_id=prompt.id).count() == 3
    assert (
        not ReadyWork.objects.filter(node_id=prompt.id, kind=TaskKind.RANK_ASSISTANT_REPLIES)
        .exclude(slots=0)
        .exists()
    )


def test_a_rankings_writes_take_the_replies_rows_in_the_order_of_their_ids():
    """Whatever order the ranker gives, the counts' updates run in the replies' id order:
    two rankings of one parent never take those rows in opposite orders (a deadlock needs
    both to interleave within one statement, too narrow for a timing test to catch)."""
    client = make_client()
    make_ranking_tree(author=make_user(client), repliers=[make_user(client) for _ in range(3)])
    ranker = make_user(client)
    task = request_task(user=ranker, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
    offered = task.payload["reply_ids"]
    ranking = sorted(range(len(offered)), key=lambda i: offered[i], reverse=True)
    with CaptureQueriesContext(connection) as sent:
        submit_ranking(task_id=task.id, user=ranker, ranking=ranking)
    (writes,) = [q["sql"] for q in sent.captured_queries if '"ranking_count"' in q["sql"]]
    hex_ids = [uuid.UUID(reply_id).hex for reply_id in offered]
    positions = sorted((writes.index(f"'{h}'"), h) for h in hex_ids)
    assert [h for _, h in positions] == sorted(hex_ids)
