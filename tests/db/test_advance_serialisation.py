"""advance_tree is idempotent, and two runs on one tree at once do the work once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from backend.trees.models import JournalEntry, Message, MessageTree, Task, TextLabels
from backend.trees.services.trees import advance_tree
from tests.builders import index_trees, make_client, make_tree, make_user

REVIEWS = 3


def prompt_with_task_reviews():
    """A prompt in review with its three (accepting) reviews in, not yet settled."""
    client = make_client()
    prompt = make_tree(author=make_user(client), state="initial_prompt_review")
    Message.objects.filter(id=prompt.id).update(review_result=None, review_count=REVIEWS)
    index_trees(prompt.message_tree_id)
    for _ in range(REVIEWS):
        reviewer = make_user(client)
        task = Task.objects.create(
            payload_type="label_initial_prompt",
            payload={},
            user=reviewer,
            api_client=client,
            parent_message=prompt,
            done=True,
        )
        TextLabels.objects.create(
            message=prompt,
            user=reviewer,
            api_client=client,
            task=task,
            labels={"spam": 0.0, "lang_mismatch": 0.0},
        )
    return prompt


@pytest.mark.django_db
def test_a_second_run_on_an_unchanged_tree_changes_nothing():
    prompt = prompt_with_task_reviews()
    assert advance_tree(tree_id=prompt.id)[0] == "prompt_lottery_waiting"
    state = MessageTree.objects.get(id=prompt.id).state
    entries = JournalEntry.objects.count()

    assert advance_tree(tree_id=prompt.id) == []
    assert MessageTree.objects.get(id=prompt.id).state == state
    assert JournalEntry.objects.count() == entries


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_runs_on_one_tree_apply_each_transition_once():
    prompt = prompt_with_task_reviews()
    results: list[list[str]] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(advance_tree(tree_id=prompt.id))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # One run settled the reviews and moved the tree; the others found nothing left to do.
    assert sorted(len(r) > 0 for r in results) == [False, False, False, True]
    assert JournalEntry.objects.filter(event_type="message_accepted").count() == 1
    moved = JournalEntry.objects.filter(
        event_type="tree_state_changed", payload__to="prompt_lottery_waiting"
    )
    assert moved.count() == 1
