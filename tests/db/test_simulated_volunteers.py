"""Many simulated volunteers drive the real services; the database keeps the invariants."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Count, F

from backend.trees.growth_config import active_config, update_config
from backend.trees.models import Message, MessageReaction, MessageTree, TextLabels
from bench.volunteers import make_volunteers

pytestmark = pytest.mark.django_db

REVIEWS = 2


@pytest.fixture
def small_trees():
    update_config(
        changes={
            "goal_tree_size": 4,
            "min_goal_tree_size": 4,
            "num_reviews_initial_prompt": REVIEWS,
            "num_reviews_reply": REVIEWS,
            "num_required_rankings": 2,
            "max_active_trees": 3,
            "max_initial_prompt_review": 4,
        },
        author="test",
    )


def test_simulated_volunteers_keep_every_invariant(small_trees):
    """One simulated run (it is the expensive part), several invariants checked on its result."""
    volunteers = make_volunteers(12, seed=5)
    for _ in range(220):
        volunteers.step()
    assert_trees_reach_export(volunteers)
    assert_depth_and_children_limits_hold()
    assert_every_decided_message_has_exactly_the_required_reviews()
    assert_nobody_reviews_or_ranks_their_own_message()


def assert_trees_reach_export(volunteers):
    states = Counter(MessageTree.objects.values_list("state", flat=True))
    assert states["ready_for_export"] >= 1, (states, volunteers.outcomes)
    exported = MessageTree.objects.filter(state="ready_for_export")
    assert Message.objects.filter(message_tree__in=exported, rank__isnull=False).exists()


def assert_depth_and_children_limits_hold():
    config = active_config()
    live = Message.objects.filter(deleted=False).exclude(review_result=False)
    assert not live.filter(depth__gt=config.max_tree_depth).exists()
    over_full = (
        live.filter(parent__isnull=False)
        .values("parent_id")
        .annotate(n=Count("id"))
        .filter(n__gt=config.max_children_count)
    )
    assert list(over_full) == []


def assert_every_decided_message_has_exactly_the_required_reviews():
    decided = Message.objects.filter(review_result__isnull=False)
    assert decided.exists()
    for message in decided:
        reviews = TextLabels.objects.filter(message=message, task__isnull=False).count()
        assert reviews == REVIEWS == message.review_count


def assert_nobody_reviews_or_ranks_their_own_message():
    assert not TextLabels.objects.filter(user_id=F("message__user_id")).exists()
    rankings = MessageReaction.objects.filter(payload_type="RankingReactionPayload")
    assert rankings.exists()
    for reaction in rankings:
        authors = set(
            Message.objects.filter(id__in=reaction.payload["ranked_message_ids"]).values_list(
                "user_id", flat=True
            )
        )
        assert reaction.user_id not in authors
