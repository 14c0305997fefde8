"""The adaptive review and ranking policies through the services: switch, decisions, journal."""

from __future__ import annotations

import random
import uuid

import pytest
from django.db import transaction

from backend.trees.core import shape
from backend.trees.core.policy import Role, TaskKind
from backend.trees.growth_config import active_config, update_config
from backend.trees.models import (
    JournalEntry,
    Message,
    MessageTree,
    ReadyWork,
    ReviewerReliability,
)
from backend.trees.services.interactions import submit_ranking
from backend.trees.services.reliability import estimate_reviewer_reliability
from backend.trees.services.tasks import request_task
from backend.trees.services.trees import advance_tree
from tests.builders import (
    add_reply,
    make_client,
    make_ranking_tree,
    make_tree,
    make_user,
    review,
)

pytestmark = pytest.mark.django_db

SPAM = {"spam": 1.0, "lang_mismatch": 0.0, "quality": 0.1}
GOOD = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.8}
SEQUENTIAL = {"review_policy": "sequential", "min_reviews": 2, "max_reviews": 4}


@pytest.fixture
def people():
    client = make_client()
    return [make_user(client, username=f"volunteer-{i}") for i in range(8)]


@pytest.fixture
def reply(people):
    prompt = make_tree(author=people[0])
    return add_reply(prompt, author=people[1])


def _reviews_drawn(user, seeds: int = 12) -> set[str]:
    """The messages ``user``'s assistant-reply review requests get over ``seeds`` seeded
    draws, each request rolled back (so every draw sees the same work)."""
    found = set()
    for seed in range(seeds):
        with transaction.atomic():
            task = request_task(
                user=user, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en", rng=random.Random(seed)
            )
            found.add(task.payload["message_id"])
            transaction.set_rollback(True)
    return found


def decision_of(message) -> JournalEntry:
    return JournalEntry.objects.filter(
        message_id=message.id, event_type__in=["message_accepted", "message_rejected"]
    ).get()


def test_a_config_switch_applies_to_the_next_decision(people, reply):
    review(reply, people[2:4], GOOD)
    advance_tree(tree_id=reply.message_tree_id)
    assert Message.objects.get(id=reply.id).review_result is None  # OA: 3 reviews needed

    update_config(changes=SEQUENTIAL, author="test")
    advance_tree(tree_id=reply.message_tree_id)

    assert Message.objects.get(id=reply.id).review_result is True
    assert decision_of(reply).payload["policy"] == "sequential"


def test_oas_fixed_policy_journals_its_score_and_policy(people, reply):
    review(reply, people[2:5], GOOD)
    advance_tree(tree_id=reply.message_tree_id)
    payload = decision_of(reply).payload
    assert payload["policy"] == "fixed"
    assert payload["acceptance_score"] == 1.0
    assert payload["reviews"] == 3


def test_disagreeing_reviewers_open_one_more_review_slot(people, reply):
    update_config(changes=SEQUENTIAL, author="test")
    review(reply, [people[2]], GOOD)
    review(reply, [people[3]], SPAM)
    advance_tree(tree_id=reply.message_tree_id)

    message = Message.objects.get(id=reply.id)
    assert message.review_result is None
    assert message.reviews_asked == 3
    row = ReadyWork.objects.get(node_id=reply.id)
    assert row.slots == 1
    extended = JournalEntry.objects.get(message_id=reply.id, event_type="review_extended")
    assert 0.05 < extended.payload["posterior_acceptable"] < 0.95
    assert [v["acceptable"] for v in extended.payload["votes"]] == [True, False]


def test_a_sequential_decision_explains_votes_weights_and_posterior(people, reply):
    update_config(changes=SEQUENTIAL, author="test")
    review(reply, people[2:4], SPAM)
    advance_tree(tree_id=reply.message_tree_id)  # two newcomers: not sure enough, asks a third
    review(reply, people[4:5], SPAM)
    advance_tree(tree_id=reply.message_tree_id)

    assert Message.objects.get(id=reply.id).review_result is False
    payload = decision_of(reply).payload
    assert payload["posterior_acceptable"] < 0.05
    assert payload["reason"] == "confident"
    assert len(payload["votes"]) == 3
    assert all(v["weight"] < 0 for v in payload["votes"])


def test_no_sequential_decision_below_min_reviews(people, reply):
    update_config(changes={**SEQUENTIAL, "min_reviews": 3}, author="test")
    review(reply, people[2:4], GOOD)
    advance_tree(tree_id=reply.message_tree_id)
    assert Message.objects.get(id=reply.id).review_result is None


def test_reliability_job_stores_each_reviewers_skill(people):
    update_config(changes={"num_reviews_reply": 4}, author="test")
    prompt = make_tree(author=people[0], goal_tree_size=20, max_children_count=20)
    honest, contrarian = people[2:5], people[5]
    for i in range(6):
        message = add_reply(prompt, author=people[1], text=f"reply {i}")
        review(message, honest, SPAM if i == 0 else GOOD)
        review(message, [contrarian], GOOD if i == 0 else SPAM)

    report = estimate_reviewer_reliability()

    assert report.reviewers == 4
    stored = {r.user_id: r for r in ReviewerReliability.objects.all()}
    assert stored[honest[0].id].sensitivity > 0.9
    assert stored[contrarian.id].sensitivity < 0.5
    assert JournalEntry.objects.filter(event_type="reviewer_reliability_estimated").exists()


def rank(prompt, user, best_first_authors):
    """``user`` ranks the prompt's replies, best first by their authors."""
    task = request_task(user=user, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
    authors = dict(Message.objects.filter(parent_id=prompt.id).values_list("id", "user_id"))
    offered = [authors[uuid.UUID(i)] for i in task.payload["reply_ids"]]
    order = [offered.index(author.id) for author in best_first_authors]
    submit_ranking(task_id=task.id, user=user, ranking=order)


@pytest.fixture
def ranked(people):
    update_config(
        changes={"ranking_policy": "adaptive", "min_rankings": 2, "max_rankings": 3},
        author="test",
    )
    return make_ranking_tree(author=people[0], repliers=people[1:4])


def test_agreeing_rankers_finish_a_parent_at_min_rankings(people, ranked):
    for ranker in people[4:6]:
        rank(ranked, ranker, people[1:4])
    advance_tree(tree_id=ranked.message_tree_id)
    assert MessageTree.objects.get(id=ranked.message_tree_id).state == "ready_for_export"
    scored = JournalEntry.objects.get(message_id=ranked.id, event_type="replies_scored")
    assert scored.payload["kendalls_w"] == 1.0
    assert scored.payload["rankings"] == 2


def test_scoring_journals_the_plackett_luce_order_with_its_uncertainty(people, ranked):
    for ranker in people[4:6]:
        rank(ranked, ranker, people[1:4])
    advance_tree(tree_id=ranked.message_tree_id)

    fitted = JournalEntry.objects.get(message_id=ranked.id, event_type="replies_scored").payload[
        "plackett_luce"
    ]
    by_rank = {m.rank: str(m.id) for m in Message.objects.filter(parent_id=ranked.id)}
    assert fitted["order"] == [by_rank[0], by_rank[1], by_rank[2]]  # agrees with ranked pairs
    assert fitted["p_best"] == 1.0  # two identical rankings: every resample agrees
    assert set(fitted["stderr"]) == set(by_rank.values())


def test_disagreeing_rankers_get_one_more_ranking(people, ranked):
    rank(ranked, people[4], people[1:4])
    rank(ranked, people[5], list(reversed(people[1:4])))
    advance_tree(tree_id=ranked.message_tree_id)

    assert MessageTree.objects.get(id=ranked.message_tree_id).state == "ranking"
    assert Message.objects.get(id=ranked.id).rankings_asked == 3
    assert ReadyWork.objects.get(node_id=ranked.id).slots == 1
    extended = JournalEntry.objects.get(message_id=ranked.id, event_type="ranking_extended")
    assert extended.payload["kendalls_w"] == 0.0

    rank(ranked, people[6], people[1:4])
    advance_tree(tree_id=ranked.message_tree_id)
    assert MessageTree.objects.get(id=ranked.message_tree_id).state == "ready_for_export"
    assert Message.objects.filter(parent_id=ranked.id, rank=0).get().user_id == people[1].id


# --- active selection -------------------------------------------------------------------------


def test_an_undecided_review_stores_its_posterior_and_weights_the_next_slot(people, reply):
    update_config(changes=SEQUENTIAL, author="test")
    review(reply, [people[2]], GOOD)
    review(reply, [people[3]], SPAM)
    fresh = add_reply(Message.objects.get(id=reply.parent_id), author=people[6])
    advance_tree(tree_id=reply.message_tree_id)

    message = Message.objects.get(id=reply.id)
    extended = JournalEntry.objects.get(message_id=reply.id, event_type="review_extended")
    assert message.review_posterior == pytest.approx(
        extended.payload["posterior_acceptable"], abs=1e-4
    )
    config = active_config()
    disputed = ReadyWork.objects.get(node_id=reply.id)
    waiting = ReadyWork.objects.get(node_id=fresh.id)
    assert disputed.weight == shape.review_weight(
        shape.Node(reply.id, None, 1, Role.ASSISTANT, review_posterior=message.review_posterior),
        config,
    )
    # Never decided on: the prior's (P = 0.9, less in doubt than the disputed one).
    assert waiting.weight == shape.review_weight(
        shape.Node(fresh.id, None, 1, Role.ASSISTANT), config
    )
    assert disputed.weight > waiting.weight


def test_disagreeing_rankers_store_their_agreement_as_the_parents_weight(people, ranked):
    a, b, c = people[1:4]
    rank(ranked, people[4], [a, b, c])
    rank(ranked, people[5], [b, c, a])  # Kendall's W 0.25: one more ranking is asked
    advance_tree(tree_id=ranked.message_tree_id)

    parent = Message.objects.get(id=ranked.id)
    assert parent.rankings_asked == 3
    assert parent.ranking_agreement == pytest.approx(0.25)
    assert ReadyWork.objects.get(node_id=ranked.id).weight == pytest.approx(0.75)


def test_a_selection_policy_switch_applies_to_the_next_request(people, reply):
    """Two messages wait for review; one weighs next to nothing. OA's draw hands out both;
    once the active policy is saved, the very next requests hand out only the heavy one."""
    light = add_reply(Message.objects.get(id=reply.parent_id), author=people[6])

    def settle_light() -> None:
        # Stands for a message nearly decided (a config change rebuilt the index).
        ReadyWork.objects.filter(node_id=light.id).update(weight=1e-9)

    settle_light()
    assert _reviews_drawn(people[5]) == {str(reply.id), str(light.id)}
    update_config(changes={"selection_policy": "active"}, author="test")
    settle_light()
    assert _reviews_drawn(people[5]) == {str(reply.id)}
    update_config(changes={"selection_policy": "fixed"}, author="test")
    settle_light()
    assert _reviews_drawn(people[5]) == {str(reply.id), str(light.id)}


def test_an_always_ok_reviewers_single_ok_does_not_accept(people):
    """A lazy reviewer who approved 60 messages alone, never disapproving one: the estimate
    keeps their specificity near the prior (their approvals decided those messages), but the
    run of approvals makes them likely to approve everything, so one more review is asked
    where the two-coin weight alone (always_approver_prior 0) accepted."""
    update_config(
        changes={
            "num_reviews_reply": 1,
            "author_reliability": False,
            "review_prior_acceptable": 0.95,
        },
        author="test",
    )
    prompt = make_tree(author=people[0], goal_tree_size=70, max_children_count=70)
    lazy = people[2]
    for i in range(60):
        review(add_reply(prompt, author=people[1], text=f"reply {i}"), [lazy], GOOD)
    estimate_reviewer_reliability()
    stored = ReviewerReliability.objects.get(user=lazy)
    assert (stored.reviews, stored.disapprovals) == (60, 0)

    grove = {"review_policy": "sequential", "min_reviews": 1, "review_confidence": 0.98}
    update_config(changes={**grove, "always_approver_prior": 0.0}, author="test")
    before = add_reply(prompt, author=people[1], text="before")
    review(before, [lazy], GOOD)
    advance_tree(tree_id=prompt.message_tree_id)
    assert Message.objects.get(id=before.id).review_result is True  # two-coin weight alone

    update_config(changes={"always_approver_prior": 0.05}, author="test")
    message = add_reply(prompt, author=people[1], text="one more")
    review(message, [lazy], GOOD)
    advance_tree(tree_id=prompt.message_tree_id)

    assert Message.objects.get(id=message.id).review_result is None
    extended = JournalEntry.objects.get(message_id=message.id, event_type="review_extended")
    (vote,) = extended.payload["votes"]
    assert vote["always_approves"] > 0.3
    assert extended.payload["posterior_acceptable"] < 0.98


def test_a_low_skill_reviewer_is_routed_to_a_message_already_reviewed(people, reply):
    """Two replies wait for review, one with a review already. Once
    first_review_min_informativeness is on, a reviewer whose estimate is poor is handed only
    the reviewed one; a skilled reviewer still draws both."""
    update_config(changes={**SEQUENTIAL, "min_reviews": 2}, author="test")
    review(reply, [people[2]], GOOD)
    fresh = add_reply(Message.objects.get(id=reply.parent_id), author=people[6])
    advance_tree(tree_id=reply.message_tree_id)
    assert ReadyWork.objects.get(node_id=reply.id).reviews == 1
    assert ReadyWork.objects.get(node_id=fresh.id).reviews == 0
    careless, skilled = people[4], people[5]
    for user, sensitivity, specificity in ((careless, 0.65, 0.6), (skilled, 0.97, 0.9)):
        ReviewerReliability.objects.create(
            user=user, sensitivity=sensitivity, specificity=specificity, reviews=40, disapprovals=12
        )

    both = {str(reply.id), str(fresh.id)}
    assert _reviews_drawn(careless) == both
    update_config(changes={"first_review_min_informativeness": 0.5}, author="test")
    assert _reviews_drawn(careless) == {str(reply.id)}
    assert _reviews_drawn(skilled) == both
