"""Rules of the tree engine beyond the happy path: moderation, thresholds, task life cycle."""

from __future__ import annotations

import random
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from backend.trees import errors
from backend.trees.core.policy import NoTaskAvailable, TaskKind, TooManyPendingTasks
from backend.trees.growth_config import update_config
from backend.trees.models import Message, MessageReaction, MessageTree, Task, TextLabels
from backend.trees.selectors import task_availability
from backend.trees.services.interactions import (
    submit_labels,
    submit_ranking,
    submit_text_reply,
)
from backend.trees.services.task_lifecycle import ack_task, nack_task
from backend.trees.services.tasks import request_task
from backend.trees.services.trees import advance_tree, halt_tree, resume_tree, retry_scoring
from tests.builders import add_reply, make_client, make_tree, make_user, review

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_():
    return make_client()


def accepted_reply(parent, author, **fields):
    return add_reply(parent, author=author, review_result=True, **fields)


def test_red_flagged_reply_is_deleted_with_its_subtree(client_):
    prompt = make_tree(author=make_user(client_))
    reply = accepted_reply(prompt, make_user(client_))
    below = accepted_reply(reply, make_user(client_))
    Message.objects.filter(id=reply.id).update(emojis={"red_flag": 4})
    advance_tree(tree_id=prompt.message_tree_id)
    assert set(Message.objects.filter(deleted=True).values_list("id", flat=True)) == {
        reply.id,
        below.id,
    }
    assert Message.objects.get(id=prompt.id).children_count == 0


def test_red_flagged_prompt_aborts_the_tree(client_):
    prompt = make_tree(author=make_user(client_))
    Message.objects.filter(id=prompt.id).update(emojis={"red_flag": 4})
    advance_tree(tree_id=prompt.message_tree_id)
    assert MessageTree.objects.get(id=prompt.id).state == "aborted_low_grade"


def test_red_flags_below_the_limit_change_nothing(client_):
    prompt = make_tree(author=make_user(client_))
    reply = accepted_reply(prompt, make_user(client_))
    Message.objects.filter(id=reply.id).update(emojis={"red_flag": 3})
    advance_tree(tree_id=prompt.message_tree_id)
    assert not Message.objects.get(id=reply.id).deleted


def test_too_many_reply_skips_halt_the_tree(client_):
    update_config(changes={"auto_mod_max_skip_reply": 2}, author="test")
    prompt = make_tree(author=make_user(client_))
    for _ in range(2):
        user = make_user(client_)
        task = request_task(user=user, kind=TaskKind.ASSISTANT_REPLY, lang="en")
        nack_task(task_id=task.id, user=user, reason="not my topic")
    advance_tree(tree_id=prompt.message_tree_id)
    assert MessageTree.objects.get(id=prompt.id).state == "halted_by_moderator"


def test_skipped_node_is_never_offered_to_that_user_again(client_):
    prompt = make_tree(author=make_user(client_))
    user = make_user(client_)
    task = request_task(user=user, kind=TaskKind.ASSISTANT_REPLY, lang="en")
    nack_task(task_id=task.id, user=user)
    with pytest.raises(NoTaskAvailable):
        request_task(user=user, kind=TaskKind.ASSISTANT_REPLY, lang="en")
    assert request_task(user=make_user(client_), kind=TaskKind.ASSISTANT_REPLY, lang="en")
    assert prompt.id == task.parent_message_id


@pytest.mark.parametrize("reason", ["expired", "returned"])
def test_a_skip_whose_reason_reads_like_a_system_close_is_still_the_users_skip(client_, reason):
    make_tree(author=make_user(client_))
    user = make_user(client_)
    task = request_task(user=user, kind=TaskKind.ASSISTANT_REPLY, lang="en")
    nack_task(task_id=task.id, user=user, reason=reason)
    later = timezone.now() + timedelta(days=1)  # long past "handed out recently"
    with pytest.raises(NoTaskAvailable):
        request_task(user=user, kind=TaskKind.ASSISTANT_REPLY, lang="en", now=later)
    assert request_task(
        user=make_user(client_), kind=TaskKind.ASSISTANT_REPLY, lang="en", now=later
    )


def test_prompt_below_min_quality_is_aborted(client_):
    update_config(
        changes={"min_prompt_quality": 0.5, "num_reviews_initial_prompt": 1}, author="test"
    )
    prompt = make_tree(author=make_user(client_), state="initial_prompt_review", review_result=None)
    reviewer = make_user(client_)
    task = request_task(user=reviewer, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en")
    submit_labels(
        task_id=task.id,
        user=reviewer,
        message_id=prompt.id,
        labels={"spam": 0, "lang_mismatch": 0, "quality": 0.25},
    )
    advance_tree(tree_id=prompt.id)
    assert MessageTree.objects.get(id=prompt.id).state == "aborted_low_grade"
    assert Message.objects.get(id=prompt.id).review_result is True


def test_low_quality_reply_gets_no_children_and_tree_moves_to_ranking(client_):
    update_config(
        changes={"min_reply_quality_for_extension": 0.5, "num_reviews_reply": 1}, author="test"
    )
    author = make_user(client_)
    prompt = make_tree(author=author, max_children_count=1)
    reply = add_reply(prompt, author=make_user(client_))
    review(reply, [make_user(client_)], {"spam": 0, "lang_mismatch": 0, "quality": 0.2})
    advance_tree(tree_id=prompt.id)
    assert Message.objects.get(id=reply.id).review_result is True
    with pytest.raises(NoTaskAvailable):
        request_task(user=make_user(client_), kind=TaskKind.PROMPTER_REPLY, lang="en")
    # Nothing can be extended though the goal size (12) is far: rank instead of waiting.
    advance_tree(tree_id=prompt.id)
    assert MessageTree.objects.get(id=prompt.id).state in {"ranking", "ready_for_export"}


def test_availability_counts_reflect_the_trees(client_):
    prompt = make_tree(author=make_user(client_))
    pending = add_reply(prompt, author=make_user(client_))
    counts = task_availability(lang="en", config=update_config_noop(), now=timezone.now())
    assert counts["assistant_reply"] == 1  # the prompt takes more answers
    assert counts["label_assistant_reply"] == 1  # the pending answer needs reviews
    assert counts["random"] == sum(v for k, v in counts.items() if k != "random")
    mine = task_availability(
        lang="en", config=update_config_noop(), now=timezone.now(), user_id=pending.user_id
    )
    assert mine["label_assistant_reply"] == 0  # nobody reviews their own message


def update_config_noop():
    from backend.trees.growth_config import active_config

    return active_config()


def test_user_with_max_pending_tasks_gets_no_more(client_):
    update_config(changes={"max_pending_tasks_per_user": 1}, author="test")
    user = make_user(client_)
    request_task(user=user, kind=TaskKind.INITIAL_PROMPT, lang="en")
    with pytest.raises(TooManyPendingTasks):
        request_task(user=user, kind=TaskKind.INITIAL_PROMPT, lang="en")


def test_ack_twice_is_refused(client_):
    user = make_user(client_)
    task = request_task(user=user, kind=TaskKind.INITIAL_PROMPT, lang="en")
    ack_task(task_id=task.id, user=user, frontend_message_id="fm-a")
    with pytest.raises(errors.TaskAlreadyAcked):
        ack_task(task_id=task.id, user=user, frontend_message_id="fm-b")
    assert Task.objects.get(id=task.id).frontend_message_id == "fm-a"


def test_another_users_task_cannot_be_used(client_):
    owner, intruder = make_user(client_), make_user(client_)
    task = request_task(user=owner, kind=TaskKind.INITIAL_PROMPT, lang="en")
    with pytest.raises(errors.TaskNotOwned):
        submit_text_reply(task_id=task.id, user=intruder, text="hi", frontend_message_id="x")
    assert Message.objects.count() == 0


def test_expired_task_takes_no_interaction(client_):
    user = make_user(client_)
    past = timezone.now() - timedelta(hours=5)
    task = request_task(user=user, kind=TaskKind.INITIAL_PROMPT, lang="en", now=past)
    with pytest.raises(errors.TaskExpired):
        submit_text_reply(task_id=task.id, user=user, text="hello", frontend_message_id="late")
    assert Message.objects.count() == 0


def test_same_reply_sent_twice_creates_one_message(client_):
    user = make_user(client_)
    task = request_task(user=user, kind=TaskKind.INITIAL_PROMPT, lang="en")
    first = submit_text_reply(task_id=task.id, user=user, text="hi!", frontend_message_id="m1")
    again = submit_text_reply(task_id=task.id, user=user, text="hi!", frontend_message_id="m1")
    assert first.id == again.id
    assert Message.objects.count() == 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 9000])
def test_empty_or_oversized_text_is_refused(client_, text):
    user = make_user(client_)
    task = request_task(user=user, kind=TaskKind.INITIAL_PROMPT, lang="en")
    with pytest.raises(errors.InvalidText):
        submit_text_reply(task_id=task.id, user=user, text=text, frontend_message_id="t")
    assert not Task.objects.get(id=task.id).done


def test_labels_must_include_mandatory_and_only_valid_ones(client_):
    prompt = make_tree(author=make_user(client_))
    add_reply(prompt, author=make_user(client_))
    reviewer = make_user(client_)
    task = request_task(user=reviewer, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en")
    message_id = task.payload["message_id"]
    for bad in ({"quality": 0.5}, {"spam": 0, "bogus": 1}, {"spam": 2}, {"spam": True}):
        with pytest.raises(errors.InvalidLabels):
            submit_labels(task_id=task.id, user=reviewer, message_id=message_id, labels=bad)
    assert TextLabels.objects.count() == 0


def _ranking_tree(client_):
    prompt = make_tree(author=make_user(client_), state="ranking")
    for _ in range(3):
        accepted_reply(prompt, make_user(client_))
    return prompt


def test_ranking_must_be_a_permutation_of_the_offered_replies(client_):
    _ranking_tree(client_)
    ranker = make_user(client_)
    task = request_task(user=ranker, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
    for bad in ([0, 1], [0, 1, 1], [0, 1, 3], [2, 1, 0, 3], [True, 0, 2]):
        with pytest.raises(errors.InvalidRanking):
            submit_ranking(task_id=task.id, user=ranker, ranking=bad)
    assert MessageReaction.objects.count() == 0
    submit_ranking(task_id=task.id, user=ranker, ranking=[2, 0, 1])
    assert MessageReaction.objects.count() == 1


def test_scoring_failure_is_recorded_and_can_be_retried(client_):
    prompt = _ranking_tree(client_)
    MessageTree.objects.filter(id=prompt.id).update(state="ready_for_scoring")
    with mock.patch(
        "backend.trees.core.consensus.message_ranks", side_effect=RuntimeError("broken ranking")
    ):
        # a ranking must exist for scoring to run the consensus
        MessageReaction.objects.create(
            message=prompt,
            user=make_user(client_),
            api_client=client_,
            payload_type="RankingReactionPayload",
            payload={"ranked_message_ids": [str(m.id) for m in prompt.children.all()]},
        )
        advance_tree(tree_id=prompt.id)
    assert MessageTree.objects.get(id=prompt.id).state == "scoring_failed"
    retry_scoring(tree_id=prompt.id)
    assert MessageTree.objects.get(id=prompt.id).state == "ready_for_export"
    assert sorted(m.rank for m in prompt.children.all()) == [0, 1, 2]


def test_halted_tree_hands_out_nothing_until_resumed(client_):
    prompt = make_tree(author=make_user(client_))
    MessageTree.objects.filter(id=prompt.id).update(won_prompt_lottery_date=timezone.now())
    halt_tree(tree_id=prompt.id, actor="admin")
    with pytest.raises(NoTaskAvailable):
        request_task(user=make_user(client_), kind=TaskKind.ASSISTANT_REPLY, lang="en")
    resume_tree(tree_id=prompt.id, actor="admin")
    assert MessageTree.objects.get(id=prompt.id).state == "growing"
    assert request_task(user=make_user(client_), kind=TaskKind.ASSISTANT_REPLY, lang="en")


def test_labels_on_a_tree_halted_after_the_task_was_handed_out_are_refused(client_):
    """Finding R9: a halt freezes a tree under investigation, reviews included."""
    prompt = make_tree(author=make_user(client_))
    reply = add_reply(prompt, author=make_user(client_))
    reviewer = make_user(client_)
    task = request_task(user=reviewer, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en")
    halt_tree(tree_id=prompt.id, actor="admin")

    with pytest.raises(errors.TargetUnavailable):
        submit_labels(task_id=task.id, user=reviewer, message_id=reply.id, labels={"spam": 0.0})

    reply.refresh_from_db()
    assert (reply.review_count, reply.review_result) == (0, None)
    assert not TextLabels.objects.filter(message=reply).exists()


def test_backlog_tree_is_activated_when_a_tree_finishes(client_):
    update_config(changes={"p_activate_backlog_tree": 1.0}, author="test")
    backlog = _ranking_tree(client_)
    MessageTree.objects.filter(id=backlog.id).update(state="backlog_ranking")
    finishing = make_tree(author=make_user(client_))
    Message.objects.filter(id=finishing.id).update(emojis={"red_flag": 9})
    advance_tree(tree_id=finishing.id, rng=random.Random(1))
    assert MessageTree.objects.get(id=finishing.id).state == "aborted_low_grade"
    assert MessageTree.objects.get(id=backlog.id).state == "ranking"


def test_second_review_of_the_same_message_by_one_user_is_refused(client_):
    prompt = make_tree(author=make_user(client_))
    reply = add_reply(prompt, author=make_user(client_))  # awaits review
    user = make_user(client_)
    now = timezone.now()
    first = request_task(user=user, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en", now=now)
    # Past recent_tasks_span_sec the same message may be handed to the same user again.
    later = now + timedelta(seconds=301)
    second = request_task(user=user, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en", now=later)
    assert first.parent_message_id == second.parent_message_id == reply.id
    labels = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.5}
    submit_labels(task_id=first.id, user=user, message_id=reply.id, labels=labels, now=later)

    with pytest.raises(errors.InvalidLabels, match="already reviewed"):
        submit_labels(task_id=second.id, user=user, message_id=reply.id, labels=labels, now=later)
    assert Message.objects.get(id=reply.id).review_count == 1
