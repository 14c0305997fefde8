"""Invariants of the whole core, checked on the in-memory world with many simulated users."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.lifecycle import TreeState, is_finished
from backend.trees.core.policy import Role, TaskKind
from tests.unit.simulation import World

RANK_KINDS = (TaskKind.RANK_ASSISTANT_REPLIES, TaskKind.RANK_PROMPTER_REPLIES)
LABEL_KINDS = (
    TaskKind.LABEL_INITIAL_PROMPT,
    TaskKind.LABEL_ASSISTANT_REPLY,
    TaskKind.LABEL_PROMPTER_REPLY,
)


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
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def settle(world: World) -> World:
    assert world.run_until_settled(max_steps=10_000), world.state_counts()
    return world


@property_settings
@given(worlds())
def test_every_tree_finishes_when_users_keep_working(world):
    settle(world)
    assert all(is_finished(tree.state) for tree in world.trees.values())


@property_settings
@given(worlds())
def test_depth_and_children_limits_are_never_exceeded(world):
    config = world.config
    while not world.is_settled() and len(world.events) < 10_000:
        world.step()
        for message in world.messages.values():
            assert message.depth <= config.max_tree_depth
            active = [c for c in world.children(message) if world.is_active_child(c)]
            assert len(active) <= config.max_children_count
            if message.role is Role.ASSISTANT:
                assert len(active) <= config.num_prompter_replies


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
            summary = world.summary(tree)
            assert all(n >= world.config.num_required_rankings for n in summary.rankings_per_parent)


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
