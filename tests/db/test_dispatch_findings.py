"""Dispatch behaviour the engine must reach (findings R1-R7 of engine-bugs.md).

Written against the service doors only (request_task, nack/ack, the interactions, advance_tree,
update_config and the maintenance sweep), so they hold whatever the ready-work index looks like.
Each failed on the engine before the ready-work index (commit 82671e1) for the reason its
finding describes; the guards (acked leases, skipped rankings) held then and must keep holding.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backend.trees.core.policy import NoTaskAvailable, TaskKind
from backend.trees.growth_config import update_config
from backend.trees.models import Message, MessageTree
from backend.trees.services.interactions import submit_ranking
from backend.trees.services.task_lifecycle import ack_task, nack_task
from backend.trees.services.tasks import request_task
from backend.trees.services.trees import advance_tree
from tests.builders import (
    add_reply,
    answer,
    index_trees,
    make_client,
    make_ranking_tree,
    make_tree,
    make_user,
    review,
)

pytestmark = pytest.mark.django_db

K = TaskKind


@pytest.fixture
def users():
    client = make_client()
    return [make_user(client, username=f"u{i}") for i in range(8)]


def state(prompt: Message) -> str:
    return MessageTree.objects.get(id=prompt.message_tree_id).state


def sweep_trees() -> int:
    from backend.trees.services import maintenance  # sweep_trees is the fix for R1

    return maintenance.sweep_trees()


# --- R1: a periodic sweep re-evaluates every active tree ---------------------------------------


def test_sweep_decides_a_review_that_a_lower_num_reviews_reply_made_due(
    users, django_capture_on_commit_callbacks
):
    update_config(changes={"num_reviews_reply": 3}, author="test")
    prompt = make_tree(author=users[0], goal_tree_size=2)
    with django_capture_on_commit_callbacks(execute=True):  # advance jobs run, as in production
        reply = answer(request_task(user=users[1], kind=K.ASSISTANT_REPLY, lang="en"), users[1])
        review(reply, users[2:4])  # 2 of the 3 required reviews
    update_config(changes={"num_reviews_reply": 2}, author="test")
    assert state(prompt) == "growing"

    sweep_trees()

    assert Message.objects.get(id=reply.id).review_result is True
    assert state(prompt) == "ready_for_export"


def test_sweep_scores_a_ranking_tree_that_a_lower_num_required_rankings_made_complete(
    users, django_capture_on_commit_callbacks
):
    update_config(changes={"num_required_rankings": 3}, author="test")
    prompt = make_ranking_tree(author=users[0], repliers=users[1:3])
    with django_capture_on_commit_callbacks(execute=True):
        for ranker in users[3:5]:
            task = request_task(user=ranker, kind=K.RANK_ASSISTANT_REPLIES, lang="en")
            submit_ranking(task_id=task.id, user=ranker, ranking=[0, 1])
    update_config(changes={"num_required_rankings": 2}, author="test")
    assert state(prompt) == "ranking"

    sweep_trees()

    assert state(prompt) == "ready_for_export"


def _tree_whose_advance_job_was_lost(users) -> Message:
    """A growing tree at its goal with every reply accepted: it should be in ranking."""
    prompt = make_tree(author=users[0], goal_tree_size=3)
    for author in users[1:3]:
        add_reply(prompt, author=author, review_result=True, review_count=3)
    return prompt


def test_sweep_advances_a_tree_whose_advance_job_was_lost(users):
    prompt = _tree_whose_advance_job_was_lost(users)

    advanced = sweep_trees()

    assert advanced == 1
    assert state(prompt) == "ranking"


def test_sweep_trees_command_advances_a_tree_whose_advance_job_was_lost(users):
    prompt = _tree_whose_advance_job_was_lost(users)

    call_command("sweep_trees")

    assert state(prompt) == "ranking"


# --- R2: a reply lease lasts recent_tasks_span_sec unless acknowledged -------------------------


def _prompt_with_one_free_reply_slot(users) -> Message:
    prompt = make_tree(author=users[0], max_children_count=3)
    for author in users[5:7]:
        add_reply(prompt, author=author, review_result=True, review_count=3)
    return prompt


def test_unacked_reply_task_frees_its_slot_after_recent_tasks_span(users):
    prompt = _prompt_with_one_free_reply_slot(users)
    now = timezone.now()
    request_task(user=users[1], kind=K.ASSISTANT_REPLY, lang="en", now=now)  # never answered
    with pytest.raises(NoTaskAvailable):
        request_task(
            user=users[2], kind=K.ASSISTANT_REPLY, lang="en", now=now + timedelta(seconds=299)
        )

    later = request_task(
        user=users[2], kind=K.ASSISTANT_REPLY, lang="en", now=now + timedelta(seconds=301)
    )

    assert later.parent_message_id == prompt.id


@pytest.mark.parametrize("seconds_later", [301, 3600])
def test_acked_reply_task_keeps_its_slot_while_valid(users, seconds_later):
    _prompt_with_one_free_reply_slot(users)
    now = timezone.now()
    task = request_task(user=users[1], kind=K.ASSISTANT_REPLY, lang="en", now=now)
    ack_task(task_id=task.id, user=users[1], frontend_message_id="fm-ack", now=now)

    with pytest.raises(NoTaskAvailable):
        request_task(
            user=users[2],
            kind=K.ASSISTANT_REPLY,
            lang="en",
            now=now + timedelta(seconds=seconds_later),
        )


@pytest.mark.parametrize("seconds_later", [301, 3600])
def test_a_user_holding_an_acked_task_is_not_handed_its_parent_again(users, seconds_later):
    """One user never holds two tasks on one node: past ``recent_tasks_span_sec`` the acked
    task still holds its slot (the parent has two more for others), and the user would
    answer the same parent twice."""
    make_tree(author=users[0], max_children_count=3)
    now = timezone.now()
    task = request_task(user=users[1], kind=K.ASSISTANT_REPLY, lang="en", now=now)
    ack_task(task_id=task.id, user=users[1], frontend_message_id="fm-held", now=now)
    later = now + timedelta(seconds=seconds_later)

    with pytest.raises(NoTaskAvailable):
        request_task(user=users[1], kind=K.ASSISTANT_REPLY, lang="en", now=later)
    assert request_task(user=users[2], kind=K.ASSISTANT_REPLY, lang="en", now=later)


def test_a_parent_hands_out_as_many_reply_tasks_as_it_has_free_slots(users):
    prompt = make_tree(author=users[0], max_children_count=3)
    now = timezone.now()

    granted = [
        request_task(user=u, kind=K.ASSISTANT_REPLY, lang="en", now=now).parent_message_id
        for u in users[1:4]
    ]

    assert granted == [prompt.id] * 3
    with pytest.raises(NoTaskAvailable):
        request_task(user=users[4], kind=K.ASSISTANT_REPLY, lang="en", now=now)


# --- R3: the pending-task cap counts recent tasks only -----------------------------------------


def test_pending_task_cap_counts_only_tasks_of_the_recent_span(users):
    for _ in range(9):
        make_tree(author=users[0], state="initial_prompt_review", review_result=None)
    now = timezone.now()
    for _ in range(8):  # max_pending_tasks_per_user, all abandoned
        request_task(user=users[1], kind=K.LABEL_INITIAL_PROMPT, lang="en", now=now)

    task = request_task(
        user=users[1], kind=K.LABEL_INITIAL_PROMPT, lang="en", now=now + timedelta(seconds=301)
    )

    assert task.payload_type == "label_initial_prompt"


# --- R4: a skip excludes the node for that task kind only --------------------------------------


def test_skipping_a_reply_task_still_lets_the_user_rank_that_prompts_replies(users):
    prompt = make_tree(author=users[0], goal_tree_size=3)
    skipper = users[5]
    task = request_task(user=skipper, kind=K.ASSISTANT_REPLY, lang="en")
    nack_task(task_id=task.id, user=skipper)
    for author in users[1:3]:
        add_reply(prompt, author=author, review_result=True, review_count=3)
    advance_tree(tree_id=prompt.message_tree_id)
    assert state(prompt) == "ranking"

    rank = request_task(user=skipper, kind=K.RANK_ASSISTANT_REPLIES, lang="en")

    assert rank.parent_message_id == prompt.id


def test_skipping_a_prompts_label_task_still_lets_the_user_answer_it_once_growing(users):
    prompt = make_tree(author=users[0], state="initial_prompt_review", review_result=None)
    skipper = users[5]
    task = request_task(user=skipper, kind=K.LABEL_INITIAL_PROMPT, lang="en")
    nack_task(task_id=task.id, user=skipper)
    Message.objects.filter(id=prompt.id).update(review_result=True, review_count=3)
    MessageTree.objects.filter(id=prompt.message_tree_id).update(state="growing", active=True)
    index_trees(prompt.message_tree_id)

    reply = request_task(user=skipper, kind=K.ASSISTANT_REPLY, lang="en")

    assert reply.parent_message_id == prompt.id


def test_a_skipped_ranking_is_not_offered_to_that_user_again(users):
    make_ranking_tree(author=users[0], repliers=users[1:3])
    task = request_task(user=users[5], kind=K.RANK_ASSISTANT_REPLIES, lang="en")
    nack_task(task_id=task.id, user=users[5])

    with pytest.raises(NoTaskAvailable):
        request_task(user=users[5], kind=K.RANK_ASSISTANT_REPLIES, lang="en")


# --- R6: per-user exclusions come before any candidate cap -------------------------------------


def test_user_is_offered_the_newest_ranking_when_over_a_hundred_older_ones_exclude_them(users):
    ranker = users[2]
    for _ in range(101):  # the user answered in each, so may not rank any of them
        make_ranking_tree(author=users[0], repliers=[ranker, users[1]], goal_tree_size=3)
    newest = make_ranking_tree(author=users[0], repliers=users[3:5], goal_tree_size=3)

    task = request_task(user=ranker, kind=K.RANK_ASSISTANT_REPLIES, lang="en")

    assert task.parent_message_id == newest.id


# --- R7: no goal overshoot, and no reply lost --------------------------------------------------


def test_a_tree_one_message_short_of_its_goal_hands_out_one_reply_task_at_a_time(users):
    update_config(changes={"p_lonely_child_extension": 0.0}, author="test")
    prompt = make_tree(author=users[0], goal_tree_size=3)
    add_reply(prompt, author=users[1], review_result=True, review_count=3)
    first = request_task(user=users[2], kind=K.ASSISTANT_REPLY, lang="en")
    assert first.parent_message_id == prompt.id

    with pytest.raises(NoTaskAvailable):
        request_task(user=users[3], kind=K.PROMPTER_REPLY, lang="en")


def test_reply_to_a_task_valid_when_handed_out_is_stored_after_the_tree_entered_ranking(users):
    update_config(changes={"num_reviews_reply": 2, "p_lonely_child_extension": 0.0}, author="test")
    prompt = make_tree(author=users[0], goal_tree_size=4)
    for author in users[1:3]:
        add_reply(prompt, author=author, review_result=True, review_count=2)
    now = timezone.now()
    late = request_task(user=users[3], kind=K.ASSISTANT_REPLY, lang="en", now=now)
    # The unanswered task's lease lapses; someone else writes the tree's last message.
    last = request_task(
        user=users[4], kind=K.PROMPTER_REPLY, lang="en", now=now + timedelta(seconds=301)
    )
    review(answer(last, users[4]), users[5:7])
    advance_tree(tree_id=prompt.message_tree_id)
    assert state(prompt) == "ranking"

    message = answer(late, users[3], text="written while the tree moved on")

    assert Message.objects.filter(id=message.id, task_id=late.id).exists()
