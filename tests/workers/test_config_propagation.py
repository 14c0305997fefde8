"""A tree-growth change made by an admin reaches an already running worker, no restart."""

from __future__ import annotations

import pytest

from backend.trees.growth_config import update_config
from backend.trees.models import JournalEntry, MessageTree, PendingAdvance
from backend.trees.services.interactions import submit_labels
from backend.trees.services.trees import enqueue_advance
from tests.workers.conftest import prompt_in_review, wait_for

pytestmark = [
    pytest.mark.workers,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
JOB_TIMEOUT = 15.0


def owes_advance(tree_id) -> bool:
    return PendingAdvance.objects.filter(tree_id=tree_id).exists()


def test_running_worker_applies_a_config_change_on_its_next_job(worker):
    prompt, review, reviewer = prompt_in_review(
        reviews=3,
        text="Why do cats purr?",
        frontend_message_id="cfg-1",
        seed=3,
        author="admin:test",
    )
    submit_labels(
        task_id=review.id,
        user=reviewer,
        message_id=prompt.id,
        labels={"spam": 0.0, "lang_mismatch": 0.0},
    )
    # One review of three: the worker's run (it settles the tree's debt) leaves it in review.
    enqueue_advance(prompt.id)
    wait_for(lambda: not owes_advance(prompt.id), timeout=JOB_TIMEOUT)
    assert MessageTree.objects.get(id=prompt.id).state == "initial_prompt_review"

    update_config(changes={"num_reviews_initial_prompt": 1}, author="admin:test")

    # The same worker process, not restarted, now needs one review and accepts the prompt:
    # the change itself enqueues the consistency sweep, which advances the tree.
    wait_for(
        lambda: MessageTree.objects.get(id=prompt.id).state != "initial_prompt_review",
        timeout=JOB_TIMEOUT,
    )
    assert JournalEntry.objects.filter(
        event_type="tree_state_changed",
        message_tree_id=prompt.id,
        payload__to="prompt_lottery_waiting",
    ).exists()
    wait_for(
        lambda: JournalEntry.objects.filter(
            event_type="message_accepted", message_id=prompt.id
        ).exists(),
        timeout=JOB_TIMEOUT,
    )
