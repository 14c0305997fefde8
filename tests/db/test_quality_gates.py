"""Quality by the reviews themselves: the author's record as a review prior, and the quality
score (reviews with a task only) that stops weak branches and closes weak trees early."""

from __future__ import annotations

import pytest

from backend.trees.core.lifecycle import TreeState
from backend.trees.growth_config import update_config
from backend.trees.models import JournalEntry, Message, MessageTree, ReviewerReliability
from backend.trees.ready_work import mean_quality_by_message
from backend.trees.services.moderation import report_message
from backend.trees.services.reliability import estimate_reviewer_reliability
from backend.trees.services.trees import advance_tree
from tests.builders import add_reply, make_client, make_tree, make_user, review

pytestmark = pytest.mark.django_db

SPAM = {"spam": 1.0, "lang_mismatch": 0.0, "quality": 0.1}
GOOD = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.8}
WEAK = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.2}


@pytest.fixture
def people():
    client = make_client()
    return [make_user(client, username=f"volunteer-{i}") for i in range(8)]


def test_a_spam_writers_record_becomes_the_prior_of_their_next_message(people):
    update_config(changes={"num_reviews_reply": 2}, author="test")
    prompt = make_tree(author=people[0], goal_tree_size=20, max_children_count=20)
    spammer, reviewers = people[1], people[2:4]
    for i in range(4):
        message = add_reply(prompt, author=spammer, text=f"spam {i}")
        review(message, reviewers, SPAM)
        advance_tree(tree_id=prompt.message_tree_id)

    report = estimate_reviewer_reliability()

    record = ReviewerReliability.objects.get(user=spammer)
    assert report.authors == 1
    assert record.authored == 4
    assert record.reviews == 0
    assert record.author_prior < 0.6  # (4 * ~0 + 4 * 0.9) / 8 at most 0.45 + EM slack

    update_config(
        changes={"review_policy": "sequential", "min_reviews": 1, "review_confidence": 0.98},
        author="test",
    )
    message = add_reply(prompt, author=spammer, text="spam again")
    review(message, [people[4]], GOOD)
    advance_tree(tree_id=prompt.message_tree_id)

    assert Message.objects.get(id=message.id).review_result is None  # one approval: not enough
    extended = JournalEntry.objects.get(message_id=message.id, event_type="review_extended")
    assert extended.payload["prior_acceptable"] == pytest.approx(record.author_prior, abs=1e-4)


def test_author_reliability_off_starts_every_message_at_the_base_prior(people):
    update_config(changes={"num_reviews_reply": 2}, author="test")
    prompt = make_tree(author=people[0], goal_tree_size=20, max_children_count=20)
    for i in range(3):
        message = add_reply(prompt, author=people[1], text=f"spam {i}")
        review(message, people[2:4], SPAM)
        advance_tree(tree_id=prompt.message_tree_id)
    estimate_reviewer_reliability()
    update_config(
        changes={
            "review_policy": "sequential",
            "min_reviews": 1,
            "review_confidence": 0.98,
            "author_reliability": False,
        },
        author="test",
    )
    message = add_reply(prompt, author=people[1], text="fine")
    review(message, [people[4]], GOOD)
    advance_tree(tree_id=prompt.message_tree_id)

    extended = JournalEntry.objects.get(message_id=message.id, event_type="review_extended")
    assert extended.payload["prior_acceptable"] == pytest.approx(0.9)


def test_free_labels_and_reports_do_not_count_in_the_quality_score(people):
    prompt = make_tree(author=people[0])
    reply = add_reply(prompt, author=people[1])
    review(reply, people[2:4], GOOD)
    report_message(user=people[5], message_id=reply.id, labels={"quality": 0.0})
    report_message(user=people[6], message_id=reply.id, labels={"quality": 0.0}, is_report=True)

    assert mean_quality_by_message([reply.id]) == {reply.id: pytest.approx(0.8)}


def test_a_tree_whose_replies_score_low_is_closed_early_and_keeps_them_for_ranking(people):
    update_config(changes={"num_reviews_reply": 1, "min_tree_quality": 0.4}, author="test")
    prompt = make_tree(author=people[0], goal_tree_size=12, max_children_count=10)
    for i in range(3):
        reply = add_reply(prompt, author=people[1 + i], text=f"weak {i}")
        review(reply, [people[5]], WEAK)
        advance_tree(tree_id=prompt.message_tree_id)

    tree = MessageTree.objects.get(id=prompt.message_tree_id)
    assert tree.state == TreeState.RANKING
    assert Message.objects.filter(parent_id=prompt.id, review_result=True).count() == 3


def test_without_min_tree_quality_a_weak_tree_keeps_growing(people):
    update_config(changes={"num_reviews_reply": 1}, author="test")
    prompt = make_tree(author=people[0], goal_tree_size=12, max_children_count=10)
    for i in range(3):
        reply = add_reply(prompt, author=people[1 + i], text=f"weak {i}")
        review(reply, [people[5]], WEAK)
        advance_tree(tree_id=prompt.message_tree_id)

    assert MessageTree.objects.get(id=prompt.message_tree_id).state == TreeState.GROWING
