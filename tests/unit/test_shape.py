"""The structural tree rules of ``core/shape.py``, each pinned at its boundary.

Messages are named by their path: ``"p"`` is the prompt, ``"p.1"`` its first reply,
``"p.1.2"`` that reply's second reply. Roles alternate with depth as in a real tree (the
prompt and every even depth are prompter messages, odd depths assistant messages).
"""

from __future__ import annotations

import pytest

from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.lifecycle import TreeState, next_state
from backend.trees.core.shape import (
    Node,
    TreeShape,
    WorkItem,
    has_extendible_parent,
    is_review_due,
    rankable_parents,
    ranking_room,
    ready_work,
    reply_room,
    review_room,
    review_weight,
    summarize,
    tree_room,
)
from backend.trees.core.task_kinds import Role, TaskKind

CONFIG = TreeManagerConfig(
    max_tree_depth=3,
    max_children_count=3,
    num_prompter_replies=1,
    goal_tree_size=12,
    num_reviews_initial_prompt=3,
    num_reviews_reply=2,
    num_required_rankings=3,
)


def msg(
    path: str,
    *,
    result: bool | None = True,
    reviews: int = 0,
    deleted: bool = False,
    quality: float | None = None,
) -> Node:
    depth = path.count(".")
    return Node(
        id=path,
        parent_id=path.rpartition(".")[0] or None,
        depth=depth,
        role=Role.PROMPTER if depth % 2 == 0 else Role.ASSISTANT,
        author_id=f"author-of-{path}",
        review_result=result,
        review_count=reviews,
        deleted=deleted,
        mean_quality=quality,
    )


def tree(
    *nodes: Node,
    state: TreeState = TreeState.GROWING,
    goal: int = 12,
    rankings: dict[str, int] | None = None,
    max_depth: int | None = None,
    max_children_count: int | None = None,
) -> TreeShape:
    return TreeShape(
        tree_id="t",
        state=state,
        goal_tree_size=goal,
        nodes=nodes,
        rankings_done=rankings or {},
        max_depth=max_depth,
        max_children_count=max_children_count,
    )


def node_of(shape: TreeShape, path: str) -> Node:
    return next(node for node in shape.nodes if node.id == path)


def room_of(path: str, shape: TreeShape, config: TreeManagerConfig = CONFIG) -> int:
    return reply_room(node_of(shape, path), shape, config)


# --- live children and tree size -----------------------------------------------------------


def test_accepted_and_in_review_children_are_live():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=None))
    assert [child.id for child in shape.live_children("p")] == ["p.1", "p.2"]


def test_rejected_child_is_not_live():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=False))
    assert [child.id for child in shape.live_children("p")] == ["p.1"]


def test_deleted_child_is_not_live():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", deleted=True))
    assert [child.id for child in shape.live_children("p")] == ["p.1"]


def test_tree_size_counts_accepted_and_in_review_messages_only():
    shape = tree(
        msg("p"),
        msg("p.1"),
        msg("p.2", result=None),
        msg("p.3", result=False),
        msg("p.1.1", deleted=True),
    )
    assert shape.size == 3


# --- reply room: children limit --------------------------------------------------------------


def test_prompter_message_takes_replies_up_to_max_children_count():
    assert room_of("p", tree(msg("p"), msg("p.1"), msg("p.2"))) == 1
    assert room_of("p", tree(msg("p"), msg("p.1"), msg("p.2"), msg("p.3"))) == 0


def test_reply_in_review_holds_its_slot():
    assert room_of("p", tree(msg("p"), msg("p.1"), msg("p.2"), msg("p.3", result=None))) == 0


def test_rejected_or_deleted_reply_frees_its_slot():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=False), msg("p.3", deleted=True))
    assert room_of("p", shape) == 2


def test_tree_own_max_children_count_overrides_the_config():
    shape = tree(msg("p"), msg("p.1"), max_children_count=5)
    assert room_of("p", shape) == 4


def test_assistant_message_takes_at_most_num_prompter_replies():
    assert room_of("p.1", tree(msg("p"), msg("p.1"))) == 1
    assert room_of("p.1", tree(msg("p"), msg("p.1"), msg("p.1.1"))) == 0


def test_num_prompter_replies_does_not_limit_prompter_messages():
    shape = tree(msg("p"), msg("p.1"))
    assert room_of("p", shape, CONFIG.replace(num_prompter_replies=1)) == 2


def test_num_prompter_replies_above_max_children_count_is_capped_by_it():
    config = CONFIG.replace(num_prompter_replies=5, max_children_count=2)
    assert room_of("p.1", tree(msg("p"), msg("p.1")), config) == 2


@pytest.mark.parametrize(
    "parent", [msg("p.1", result=None), msg("p.1", result=False), msg("p.1", deleted=True)]
)
def test_only_accepted_messages_take_replies(parent):
    assert room_of("p.1", tree(msg("p"), parent)) == 0


# --- reply room: depth ---------------------------------------------------------------------


def test_message_above_max_tree_depth_takes_replies():
    assert room_of("p.1.1", tree(msg("p"), msg("p.1"), msg("p.1.1"))) == 3


def test_message_at_max_tree_depth_takes_no_reply():
    shape = tree(msg("p"), msg("p.1"), msg("p.1.1"), msg("p.1.1.1"))
    assert room_of("p.1.1.1", shape) == 0


def test_tree_own_max_depth_overrides_a_deeper_config():
    assert room_of("p.1", tree(msg("p"), msg("p.1"), max_depth=1)) == 0


def test_tree_own_max_depth_overrides_a_shallower_config():
    shape = tree(msg("p"), msg("p.1"), msg("p.1.1"), msg("p.1.1.1"), max_depth=4)
    assert room_of("p.1.1.1", shape) == 1


# --- reply room: Grove's quality gate ------------------------------------------------------

GATED = CONFIG.replace(min_reply_quality_for_extension=0.4)


def test_reply_below_min_reply_quality_takes_no_reply():
    assert room_of("p.1", tree(msg("p"), msg("p.1", quality=0.39)), GATED) == 0


def test_reply_at_exactly_min_reply_quality_takes_replies():
    assert room_of("p.1", tree(msg("p"), msg("p.1", quality=0.4)), GATED) == 1


def test_reply_without_quality_label_is_not_gated():
    assert room_of("p.1", tree(msg("p"), msg("p.1", quality=None)), GATED) == 1


def test_prompt_is_not_gated_by_min_reply_quality():
    assert room_of("p", tree(msg("p", quality=0.1)), GATED) == 3


# --- tree room -----------------------------------------------------------------------------


def test_tree_room_is_the_goal_minus_the_live_size():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=None), msg("p.3", result=False), goal=5)
    assert tree_room(shape) == 2


def test_tree_at_its_goal_has_no_room():
    assert tree_room(tree(msg("p"), msg("p.1"), goal=2)) == 0


def test_tree_above_its_goal_has_no_room():
    assert tree_room(tree(msg("p"), msg("p.1"), msg("p.2"), goal=2)) == 0


def test_tree_at_its_goal_has_no_extendible_parent():
    shape = tree(msg("p"), msg("p.1"), goal=2)
    assert room_of("p", shape) > 0
    assert not has_extendible_parent(shape, CONFIG)


def test_tree_below_its_goal_with_a_free_slot_has_an_extendible_parent():
    assert has_extendible_parent(tree(msg("p"), msg("p.1"), goal=3), CONFIG)


def test_tree_below_its_goal_without_a_free_slot_has_no_extendible_parent():
    shape = tree(msg("p"), msg("p.1"), goal=12, max_depth=1, max_children_count=1)
    assert not has_extendible_parent(shape, CONFIG)


# --- review room ---------------------------------------------------------------------------


def test_prompt_needs_num_reviews_initial_prompt():
    assert review_room(msg("p", result=None, reviews=1), CONFIG) == 2


def test_reply_needs_num_reviews_reply():
    assert review_room(msg("p.1", result=None, reviews=1), CONFIG) == 1


def test_message_with_its_required_reviews_needs_no_more():
    assert review_room(msg("p.1", result=None, reviews=2), CONFIG) == 0


@pytest.mark.parametrize(
    "node",
    [msg("p.1", result=True), msg("p.1", result=False), msg("p.1", result=None, deleted=True)],
)
def test_decided_or_deleted_message_needs_no_review(node):
    assert review_room(node, CONFIG) == 0


def test_review_is_due_once_the_required_reviews_are_in():
    assert not is_review_due(msg("p.1", result=None, reviews=1), CONFIG)
    assert is_review_due(msg("p.1", result=None, reviews=2), CONFIG)


# --- rankable parents and ranking room -----------------------------------------------------


def test_parent_with_two_accepted_assistant_replies_is_rankable():
    shape = tree(msg("p"), msg("p.1"), msg("p.2"))
    assert {p: [kid.id for kid in kids] for p, kids in rankable_parents(shape, CONFIG).items()} == {
        "p": ["p.1", "p.2"]
    }


def test_deleted_parent_is_never_ranked():
    shape = tree(msg("p"), msg("p.1", deleted=True), msg("p.1.1"), msg("p.1.2"))
    assert "p.1" not in rankable_parents(shape, CONFIG.replace(rank_prompter_replies=True))


def test_parent_with_one_accepted_reply_is_not_rankable():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=None), msg("p.3", result=False))
    assert rankable_parents(shape, CONFIG) == {}


def test_only_accepted_replies_are_ranked():
    shape = tree(
        msg("p"), msg("p.1"), msg("p.2"), msg("p.3", result=None), msg("p.4", deleted=True)
    )
    assert [kid.id for kid in rankable_parents(shape, CONFIG)["p"]] == ["p.1", "p.2"]


def test_prompter_replies_are_not_ranked_by_default():
    shape = tree(msg("p"), msg("p.1"), msg("p.1.1"), msg("p.1.2"))
    assert "p.1" not in rankable_parents(shape, CONFIG)


def test_prompter_replies_are_ranked_with_rank_prompter_replies():
    shape = tree(msg("p"), msg("p.1"), msg("p.1.1"), msg("p.1.2"))
    assert "p.1" in rankable_parents(shape, CONFIG.replace(rank_prompter_replies=True))


def test_ranking_room_is_the_required_rankings_minus_those_done():
    assert ranking_room("p", tree(msg("p"), rankings={"p": 1}), CONFIG) == 2
    assert ranking_room("p", tree(msg("p")), CONFIG) == 3


def test_parent_with_its_required_rankings_has_no_ranking_room():
    assert ranking_room("p", tree(msg("p"), rankings={"p": 3}), CONFIG) == 0
    assert ranking_room("p", tree(msg("p"), rankings={"p": 4}), CONFIG) == 0


# --- ready work per tree state -------------------------------------------------------------


def test_prompt_in_review_offers_only_its_label_item():
    shape = tree(msg("p", result=None, reviews=1), state=TreeState.INITIAL_PROMPT_REVIEW)
    assert ready_work(shape, CONFIG) == [
        WorkItem(
            TaskKind.LABEL_INITIAL_PROMPT,
            "p",
            slots=2,
            author_id="author-of-p",
            weight=review_weight(shape.prompt, CONFIG),
            reviews=1,
        )
    ]


def test_prompt_with_its_required_reviews_offers_nothing():
    shape = tree(msg("p", result=None, reviews=3), state=TreeState.INITIAL_PROMPT_REVIEW)
    assert ready_work(shape, CONFIG) == []


def test_growing_tree_offers_reply_reviews_and_replies_to_extendible_parents():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=None, reviews=1), goal=5)
    assert {(item.kind, item.node_id, item.slots) for item in ready_work(shape, CONFIG)} == {
        (TaskKind.LABEL_ASSISTANT_REPLY, "p.2", 1),
        (TaskKind.ASSISTANT_REPLY, "p", 1),
        (TaskKind.PROMPTER_REPLY, "p.1", 1),
    }


def test_growing_tree_never_offers_its_prompt_for_review():
    shape = tree(msg("p", result=None, reviews=1), goal=5)
    assert all(item.kind is not TaskKind.LABEL_INITIAL_PROMPT for item in ready_work(shape, CONFIG))


def test_reply_item_carries_the_tree_room_and_the_live_children():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=False), goal=5)
    item = next(item for item in ready_work(shape, CONFIG) if item.node_id == "p")
    assert (item.tree_room, item.child_count, item.author_id) == (3, 1, "author-of-p")


def test_growing_tree_at_its_goal_offers_only_reviews():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=None), goal=3)
    assert [(item.kind, item.node_id) for item in ready_work(shape, CONFIG)] == [
        (TaskKind.LABEL_ASSISTANT_REPLY, "p.2")
    ]


def test_ranking_tree_offers_only_rankings_of_parents_that_need_them():
    shape = tree(
        msg("p"),
        msg("p.1"),
        msg("p.2"),
        msg("p.1.1"),
        msg("p.1.1.1"),
        msg("p.1.1.2"),
        msg("p.2.1", result=None),
        state=TreeState.RANKING,
        rankings={"p": 1, "p.1.1": 3},
    )
    assert ready_work(shape, CONFIG) == [
        WorkItem(
            TaskKind.RANK_ASSISTANT_REPLIES, "p", slots=2, child_count=2, child_ids=("p.1", "p.2")
        )
    ]


@pytest.mark.parametrize(
    "state",
    sorted(
        set(TreeState) - {TreeState.INITIAL_PROMPT_REVIEW, TreeState.GROWING, TreeState.RANKING}
    ),
)
def test_trees_in_other_states_offer_nothing(state):
    shape = tree(
        msg("p", result=None), msg("p.1"), msg("p.2"), msg("p.3", result=None), state=state
    )
    assert ready_work(shape, CONFIG) == []


# --- the lifecycle summary -----------------------------------------------------------------


def test_summary_counts_accepted_and_in_review_messages():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=None), msg("p.3", result=False), goal=4)
    summary = summarize(shape, CONFIG)
    assert (summary.accepted_size, summary.awaiting_review, summary.goal_tree_size) == (2, 1, 4)


def test_summary_lists_rankings_of_rankable_parents_only():
    shape = tree(
        msg("p"), msg("p.1"), msg("p.2"), msg("p.1.1"), state=TreeState.RANKING, rankings={"p.1": 5}
    )
    assert summarize(shape, CONFIG).rankings_per_parent == (0,)


def test_summary_of_a_deleted_prompt_has_no_review_result():
    shape = tree(msg("p", deleted=True), state=TreeState.INITIAL_PROMPT_REVIEW)
    assert summarize(shape, CONFIG).prompt_review_result is None


def test_accepted_prompt_goes_to_the_lottery():
    shape = tree(msg("p", reviews=3), state=TreeState.INITIAL_PROMPT_REVIEW)
    assert next_state(summarize(shape, CONFIG), CONFIG) is TreeState.PROMPT_LOTTERY_WAITING


def test_accepted_prompt_below_min_prompt_quality_is_aborted():
    config = CONFIG.replace(min_prompt_quality=0.5)
    shape = tree(msg("p", quality=0.4), state=TreeState.INITIAL_PROMPT_REVIEW)
    assert next_state(summarize(shape, config), config) is TreeState.ABORTED_LOW_GRADE


def test_growing_tree_at_its_goal_moves_to_ranking():
    shape = tree(msg("p"), msg("p.1"), msg("p.2"), goal=3)
    assert next_state(summarize(shape, CONFIG), CONFIG) is TreeState.RANKING


def test_growing_tree_with_a_reply_in_review_stays_growing():
    shape = tree(msg("p"), msg("p.1"), msg("p.2", result=None), goal=3)
    assert next_state(summarize(shape, CONFIG), CONFIG) is None


def test_growing_tree_below_its_goal_with_a_free_slot_stays_growing():
    shape = tree(msg("p"), msg("p.1"), goal=3)
    assert next_state(summarize(shape, CONFIG), CONFIG) is None


def test_growing_tree_with_no_free_slot_moves_to_ranking_below_its_goal():
    shape = tree(msg("p"), msg("p.1"), goal=12, max_depth=1, max_children_count=1)
    assert next_state(summarize(shape, CONFIG), CONFIG) is TreeState.RANKING


def test_ranking_tree_missing_a_ranking_stays_in_ranking():
    shape = tree(msg("p"), msg("p.1"), msg("p.2"), state=TreeState.RANKING, rankings={"p": 2})
    assert next_state(summarize(shape, CONFIG), CONFIG) is None


def test_ranking_tree_with_every_required_ranking_moves_to_scoring():
    shape = tree(msg("p"), msg("p.1"), msg("p.2"), state=TreeState.RANKING, rankings={"p": 3})
    assert next_state(summarize(shape, CONFIG), CONFIG) is TreeState.READY_FOR_SCORING


# --- the tree's quality score closes weak trees early (min_tree_quality) --------------------

TREE_GATED = CONFIG.replace(min_tree_quality=0.4)


def weak_tree(*qualities: float | None, pending: bool = False) -> TreeShape:
    replies = [msg(f"p.{i}", quality=q) for i, q in enumerate(qualities, start=1)]
    if pending:
        replies.append(msg("p.9", result=None))
    return tree(msg("p", quality=0.9), *replies, goal=12, max_children_count=10)


def test_tree_whose_replies_score_below_min_tree_quality_goes_to_ranking_early():
    shape = weak_tree(0.2, 0.3, 0.4)
    assert summarize(shape, TREE_GATED).reply_quality == pytest.approx(0.3)
    assert next_state(summarize(shape, TREE_GATED), TREE_GATED) is TreeState.RANKING
    assert next_state(summarize(shape, CONFIG), CONFIG) is None  # off: keeps growing


def test_tree_quality_waits_for_three_scored_replies():
    shape = weak_tree(0.1, 0.1, None)
    assert summarize(shape, TREE_GATED).reply_quality is None
    assert next_state(summarize(shape, TREE_GATED), TREE_GATED) is None


def test_tree_quality_ignores_the_prompt_and_rejected_replies():
    shape = weak_tree(0.5, 0.5, 0.5)
    shape = tree(
        *shape.nodes, msg("p.8", result=False, quality=0.0), goal=12, max_children_count=10
    )
    assert summarize(shape, TREE_GATED).reply_quality == pytest.approx(0.5)
    assert next_state(summarize(shape, TREE_GATED), TREE_GATED) is None


def test_weak_tree_with_a_reply_in_review_waits_for_its_decision():
    shape = weak_tree(0.2, 0.2, 0.2, pending=True)
    assert next_state(summarize(shape, TREE_GATED), TREE_GATED) is None
