"""Scripted tree lives through the service layer: from prompt to export, and an abort."""

from __future__ import annotations

import itertools
import random

import pytest

from backend.trees.core.policy import NoTaskAvailable, TaskKind
from backend.trees.models import JournalEntry, Message, MessageTree, Task
from backend.trees.services.interactions import submit_labels, submit_ranking, submit_text_reply
from backend.trees.services.tasks import request_task
from tests.builders import GOOD_REVIEW, make_client, make_user, use_small_trees

pytestmark = pytest.mark.django_db

_numbers = itertools.count()
GOOD = GOOD_REVIEW


@pytest.fixture
def small_trees():
    use_small_trees()


@pytest.fixture
def people():
    client = make_client()
    return [make_user(client, username=f"volunteer-{i}") for i in range(6)]


def do_task(user, kind, rng, *, labels=GOOD, text=None):
    task = request_task(user=user, kind=kind, lang="en", rng=rng)
    n = next(_numbers)
    if kind in (TaskKind.INITIAL_PROMPT, TaskKind.ASSISTANT_REPLY, TaskKind.PROMPTER_REPLY):
        return submit_text_reply(
            task_id=task.id,
            user=user,
            text=text or f"message number {n}",
            frontend_message_id=f"fm-{n}",
        )
    if kind.value.startswith("label_"):
        payload_labels = {k: v for k, v in labels.items() if k in task.payload["valid_labels"]}
        return submit_labels(
            task_id=task.id, user=user, message_id=task.payload["message_id"], labels=payload_labels
        )
    return submit_ranking(task_id=task.id, user=user, ranking=[0, 1])


def tree_state(tree_id) -> str:
    return MessageTree.objects.get(id=tree_id).state


def test_tree_grows_from_prompt_to_export(small_trees, people, django_capture_on_commit_callbacks):
    rng = random.Random(7)
    a, b, c, d, e, f = people
    with django_capture_on_commit_callbacks(execute=True):
        prompt = do_task(a, TaskKind.INITIAL_PROMPT, rng, text="How do bees make honey?")
        tree_id = prompt.message_tree_id
        assert tree_state(tree_id) == "initial_prompt_review"

        do_task(b, TaskKind.LABEL_INITIAL_PROMPT, rng)
        do_task(c, TaskKind.LABEL_INITIAL_PROMPT, rng)
    # The accepted prompt entered the lottery and won a free growing slot at once.
    assert tree_state(tree_id) == "growing"

    with django_capture_on_commit_callbacks(execute=True):
        # b and c reviewed the prompt moments ago, so others write the replies.
        do_task(d, TaskKind.ASSISTANT_REPLY, rng, text="Bees collect nectar and reduce it.")
        do_task(e, TaskKind.ASSISTANT_REPLY, rng, text="They evaporate nectar in the hive.")
        for reviewer in (b, c):
            do_task(reviewer, TaskKind.LABEL_ASSISTANT_REPLY, rng)
            do_task(reviewer, TaskKind.LABEL_ASSISTANT_REPLY, rng)
    assert tree_state(tree_id) == "ranking"

    with django_capture_on_commit_callbacks(execute=True):
        do_task(a, TaskKind.RANK_ASSISTANT_REPLIES, rng)
        do_task(f, TaskKind.RANK_ASSISTANT_REPLIES, rng)
    assert tree_state(tree_id) == "ready_for_export"

    replies = Message.objects.filter(parent_id=prompt.id).order_by("rank")
    assert sorted(m.rank for m in replies) == [0, 1]
    assert all(m.review_result for m in Message.objects.filter(message_tree_id=tree_id))
    states = list(
        JournalEntry.objects.filter(
            message_tree_id=tree_id, event_type="tree_state_changed"
        ).values_list("payload__to", flat=True)
    )
    assert states == [
        "prompt_lottery_waiting",
        "growing",
        "ranking",
        "ready_for_scoring",
        "ready_for_export",
    ]


def test_low_review_scores_abort_the_tree(small_trees, people, django_capture_on_commit_callbacks):
    rng = random.Random(3)
    a, b, c, *_ = people
    with django_capture_on_commit_callbacks(execute=True):
        prompt = do_task(a, TaskKind.INITIAL_PROMPT, rng, text="buy cheap watches now")
        spam = {"spam": 1.0, "lang_mismatch": 0.0}
        do_task(b, TaskKind.LABEL_INITIAL_PROMPT, rng, labels=spam)
        do_task(c, TaskKind.LABEL_INITIAL_PROMPT, rng, labels=spam)
    assert tree_state(prompt.message_tree_id) == "aborted_low_grade"
    assert Message.objects.get(id=prompt.id).review_result is False
    with pytest.raises(NoTaskAvailable):
        request_task(user=b, kind=TaskKind.ASSISTANT_REPLY, lang="en", rng=rng)


def test_user_never_reviews_own_prompt(small_trees, people):
    rng = random.Random(1)
    a, *_ = people
    do_task(a, TaskKind.INITIAL_PROMPT, rng)
    with pytest.raises(NoTaskAvailable):
        request_task(user=a, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en", rng=rng)


def test_user_gets_no_second_review_task_on_same_message(small_trees, people):
    rng = random.Random(1)
    a, b, *_ = people
    do_task(a, TaskKind.INITIAL_PROMPT, rng)
    do_task(b, TaskKind.LABEL_INITIAL_PROMPT, rng)
    with pytest.raises(NoTaskAvailable):
        request_task(user=b, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en", rng=rng)


def test_review_tasks_stop_when_required_reviews_are_reserved(small_trees, people):
    rng = random.Random(1)
    a, b, c, d, *_ = people
    do_task(a, TaskKind.INITIAL_PROMPT, rng)
    request_task(user=b, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en", rng=rng)
    request_task(user=c, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en", rng=rng)
    # Two reviews required, two open review tasks: a third would be wasted work.
    with pytest.raises(NoTaskAvailable):
        request_task(user=d, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en", rng=rng)
    assert Task.objects.filter(payload_type="label_initial_prompt").count() == 2


def test_language_filter_keeps_trees_apart(small_trees, people):
    rng = random.Random(1)
    a, b, *_ = people
    do_task(a, TaskKind.INITIAL_PROMPT, rng)
    with pytest.raises(NoTaskAvailable):
        request_task(user=b, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="de", rng=rng)
