"""Reviews of one tree's messages do not wait for each other; the tree's state change waits.

A review share-locks its tree's row (``interactions._review_target``); the advance job
takes FOR NO KEY UPDATE. Two volunteers reviewing replies of one busy tree used to queue on
the tree's row."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, transaction

from backend.trees.core.policy import TaskKind
from backend.trees.services.interactions import submit_labels
from backend.trees.services.tasks import request_task
from backend.trees.services.trees import advance_tree
from tests.builders import GOOD_REVIEW, add_reply, make_client, make_tree, make_user

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


def test_a_review_in_flight_holds_off_the_advance_but_not_another_review():
    client = make_client()
    prompt = make_tree(author=make_user(client))  # growing
    users = [make_user(client) for _ in range(2)]
    # Two replies in review, each by the other user: each user can review only one of them.
    replies = [add_reply(prompt, author=author, review_result=None) for author in users[::-1]]
    kind = TaskKind.LABEL_ASSISTANT_REPLY
    tasks = [request_task(user=u, kind=kind, lang="en") for u in users]
    assert [t.payload["message_id"] for t in tasks] == [str(r.id) for r in replies]
    first_stored, finish_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first_review_held_open():
        try:
            with transaction.atomic():
                _review(tasks[0], users[0])
                first_stored.set()
                finish_first.wait(timeout=30)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_stored.set()
        finally:
            connection.close()

    holder = threading.Thread(target=first_review_held_open)
    holder.start()
    try:
        assert first_stored.wait(timeout=30) and not errors, errors
        with transaction.atomic():  # the second reviewer does not wait for the first
            _lock_timeout(2)
            _review(tasks[1], users[1])
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            _lock_timeout(0.5)  # the tree may not change state under the first review
            advance_tree(tree_id=prompt.message_tree_id)
    finally:
        finish_first.set()
        holder.join(timeout=30)
    assert not errors, errors
