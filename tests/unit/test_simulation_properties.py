"""Invariants of the whole core, checked on the in-memory world with many simulated users.

The world asks the core (``shape``, ``policy``, ``consensus``, ``lifecycle``) for every
decision; these tests state each invariant again on the world's raw records, so a broken rule
in the core shows up here as a violated invariant. Hypothesis runs derandomized (the
``replayable`` profile in tests/conftest.py): a failure names its world (``repr(world)``) and
reproduces on every run.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.consensus import mean_quality
from backend.trees.core.lifecycle import TreeState, is_finished
from backend.trees.core.task_kinds import LABEL_KINDS, RANK_KINDS, Role
from tests.unit.simulation import SimMessage, SimTree, World


@st.composite
def worlds(draw) -> World:
    goal = draw(st.integers(2, 14))
    config = TreeManagerConfig(
        max_active_trees=draw(st.integers(1, 3)),
        max_tree_depth=draw(st.integers(1, 4)),
        max_children_count=draw(st.integers(1, 4)),
        num_prompter_replies=draw(st.integers(1, 2)),
        goal_tree_size=goal,
        min_goal_tree_size=min(goal, 2),
        random_goal_tree_size=draw(st.booleans()),
        num_reviews_initial_prompt=draw(st.integers(1, 3)),
        num_reviews_reply=draw(st.integers(1, 3)),
        num_required_rankings=draw(st.integers(1, 3)),
        rank_prompter_replies=draw(st.booleans()),
        p_full_labeling_review_reply_prompter=draw(st.sampled_from([0.0, 0.25, 1.0])),
        min_prompt_quality=draw(st.sampled_from([None, 0.3])),
        min_reply_quality_for_extension=draw(st.sampled_from([None, 0.4])),
        recent_tasks_span_sec=draw(st.sampled_from([0, 60, 300])),
        max_pending_tasks_per_user=draw(st.integers(1, 8)),
    )
    # Enough people that a parent's children and its rankers can all be distinct users.
    min_users = config.max_children_count + config.num_required_rankings + 2
    return World(
        config,
        seed=draw(st.integers(0, 2**32)),
        num_users=min_users + draw(st.integers(0, 6)),
        max_prompts=draw(st.integers(1, 3)),
        spam_rate=draw(st.sampled_from([0.0, 0.1, 0.3])),
        abandon_rate=draw(st.sampled_from([0.0, 0.1])),
    )


property_settings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def settle(world: World) -> World:
    assert world.run_until_settled(max_steps=10_000), world.state_counts()
    return world


@property_settings
@given(worlds())
def test_every_tree_finishes_when_users_keep_working(world):
    settle(world)
    assert all(is_finished(tree.state) for tree in world.trees.values())


def live_children(world: World, message: SimMessage) -> list[SimMessage]:
    """Replies that hold a slot: not rejected (the world never deletes)."""
    return [child for child in world.children(message) if child.review_result is not False]


def rankable_parents(world: World, tree: SimTree) -> dict[int, list[SimMessage]]:
    """Parents with more than one accepted reply of a ranked role."""
    ranked = (
        {Role.ASSISTANT, Role.PROMPTER} if world.config.rank_prompter_replies else {Role.ASSISTANT}
    )
    found = {}
    for message in world.tree_messages(tree):
        kids = [c for c in world.children(message) if c.review_result and c.role in ranked]
        if len(kids) > 1:
            found[message.id] = kids
    return found


@property_settings
@given(worlds())
def test_depth_and_children_limits_are_never_exceeded(world):
    config = world.config
    while not world.is_settled() and len(world.events) < 10_000:
        world.step()
        for message in world.messages.values():
            assert message.depth <= config.max_tree_depth
            live = live_children(world, message)
            assert len(live) <= config.max_children_count
            if message.role is Role.ASSISTANT:
                assert len(live) <= config.num_prompter_replies


@property_settings
@given(worlds())
def test_only_accepted_messages_get_replies(world):
    settle(world)
    for message in world.messages.values():
        if message.review_result is not True:
            assert world.children(message) == []


@property_settings
@given(worlds())
def test_replies_below_min_reply_quality_get_no_replies(world):
    settle(world)
    threshold = world.config.min_reply_quality_for_extension
    for message in world.messages.values():
        quality = mean_quality(message.reviews)
        gated = threshold is not None and quality is not None and quality < threshold
        if message.depth > 0 and gated:
            assert world.children(message) == []


@property_settings
@given(worlds())
def test_no_user_answers_their_own_message(world):
    settle(world)
    for message in world.messages.values():
        if message.parent_id is not None:
            assert message.author != world.messages[message.parent_id].author


@property_settings
@given(worlds())
def test_ranking_trees_only_hand_out_rankings_and_rankings_come_only_from_them(world):
    settle(world)
    for event in world.events:
        if event.tree_state is TreeState.RANKING:
            assert event.kind in RANK_KINDS
        if event.kind in RANK_KINDS:
            assert event.tree_state is TreeState.RANKING


@property_settings
@given(worlds())
def test_reviews_are_handed_out_only_for_prompts_in_review_and_growing_trees(world):
    settle(world)
    for event in world.events:
        if event.kind in LABEL_KINDS:
            is_prompt = world.messages[event.node_id].parent_id is None
            expected = TreeState.INITIAL_PROMPT_REVIEW if is_prompt else TreeState.GROWING
            assert event.tree_state is expected


@property_settings
@given(worlds())
def test_every_decided_review_has_exactly_the_required_reviews(world):
    settle(world)
    for message in world.messages.values():
        required = (
            world.config.num_reviews_initial_prompt
            if message.parent_id is None
            else world.config.num_reviews_reply
        )
        assert len(message.reviews) <= required
        if message.review_result is not None:
            assert len(message.reviews) == required


@property_settings
@given(worlds())
def test_no_user_reviews_own_message_or_twice(world):
    settle(world)
    for message in world.messages.values():
        assert message.author not in message.reviewers
        assert len(set(message.reviewers)) == len(message.reviewers)


@property_settings
@given(worlds())
def test_no_user_ranks_replies_among_which_is_their_own(world):
    settle(world)
    for event in world.events:
        if event.completed and event.kind in RANK_KINDS:
            ranked = [c for c in world.children(world.messages[event.node_id]) if c.review_result]
            assert event.user not in {c.author for c in ranked}


@property_settings
@given(worlds())
def test_exported_trees_have_all_required_rankings(world):
    settle(world)
    for tree in world.trees.values():
        if tree.state is TreeState.READY_FOR_EXPORT:
            for parent_id in rankable_parents(world, tree):
                assert len(tree.rankings.get(parent_id, ())) >= world.config.num_required_rankings


@property_settings
@given(worlds())
def test_ranked_parents_are_rankable_and_rank_all_their_accepted_replies(world):
    settle(world)
    for tree in world.trees.values():
        rankable = rankable_parents(world, tree)
        for parent_id, rankings in tree.rankings.items():
            expected = {kid.id for kid in rankable[parent_id]}
            assert all(set(ranking) == expected for ranking in rankings)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32))
def test_seeded_runs_are_reproducible(seed):
    first, second = World(seed=seed, max_prompts=2), World(seed=seed, max_prompts=2)
    first.run(250)
    second.run(250)
    assert first.events == second.events
    assert first.messages == second.messages
    assert first.state_counts() == second.state_counts()


def test_default_world_exports_every_tree():
    world = settle(World(seed=1, num_users=20, max_prompts=4, spam_rate=0.0))
    assert world.state_counts() == {"ready_for_export": 4}


def test_exported_siblings_get_distinct_ranks():
    world = settle(World(seed=3, num_users=20, max_prompts=2, spam_rate=0.0))
    for message in world.messages.values():
        ranks = [c.rank for c in world.children(message) if c.rank is not None]
        assert len(ranks) == len(set(ranks))
        assert sorted(ranks) == list(range(len(ranks)))
