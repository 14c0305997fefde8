"""Conversation-tree states and the rules that move a tree between them.

States and their meaning follow Open-Assistant's ``message_tree_state.State``. The decision
functions take a small frozen summary of a tree (computed by the persistence layer) and return
the state the tree should enter next, or ``None`` when it stays put. Pure Python.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from backend.trees.core.config import TreeManagerConfig


class TreeState(enum.StrEnum):
    """OA's message-tree states (same string values)."""

    INITIAL_PROMPT_REVIEW = "initial_prompt_review"
    """Only the root prompt exists; prompt-labelling tasks decide whether it may grow."""
    PROMPT_LOTTERY_WAITING = "prompt_lottery_waiting"
    """The prompt passed review and waits to be drawn into ``growing``."""
    GROWING = "growing"
    """Replies and their reviews are collected."""
    RANKING = "ranking"
    """Goal size reached; ranking tasks for every parent with more than one child."""
    READY_FOR_SCORING = "ready_for_scoring"
    """All required rankings are in; the consensus ranks can be computed."""
    READY_FOR_EXPORT = "ready_for_export"
    """Ranks computed; the tree belongs to the dataset."""
    SCORING_FAILED = "scoring_failed"
    """Computing the ranks raised an error; can be retried."""
    ABORTED_LOW_GRADE = "aborted_low_grade"
    """The prompt was rejected (or flagged); no more tasks for this tree."""
    HALTED_BY_MODERATOR = "halted_by_moderator"
    """Stopped by a moderator or by auto moderation."""
    BACKLOG_RANKING = "backlog_ranking"
    """An imported tree waiting (inactive) to be activated for ranking."""


S = TreeState

# OA's TERMINAL_STATES: entering one of these makes a tree inactive (no tasks are handed out).
TERMINAL_STATES: frozenset[TreeState] = frozenset(
    {
        S.READY_FOR_EXPORT,
        S.ABORTED_LOW_GRADE,
        S.SCORING_FAILED,
        S.HALTED_BY_MODERATOR,
        S.BACKLOG_RANKING,
        S.PROMPT_LOTTERY_WAITING,
    }
)
# States no normal workflow leaves again (only a moderator can reactivate a halted tree).
FINISHED_STATES: frozenset[TreeState] = frozenset(
    {S.READY_FOR_EXPORT, S.ABORTED_LOW_GRADE, S.HALTED_BY_MODERATOR}
)

_HALT = frozenset({S.HALTED_BY_MODERATOR})
ALLOWED_TRANSITIONS: dict[TreeState, frozenset[TreeState]] = {
    S.INITIAL_PROMPT_REVIEW: frozenset({S.PROMPT_LOTTERY_WAITING, S.ABORTED_LOW_GRADE}) | _HALT,
    S.PROMPT_LOTTERY_WAITING: frozenset({S.GROWING}) | _HALT,
    # aborted_low_grade: auto moderation when the prompt collects too many red flags
    S.GROWING: frozenset({S.RANKING, S.ABORTED_LOW_GRADE}) | _HALT,
    S.RANKING: frozenset({S.READY_FOR_SCORING}) | _HALT,
    S.BACKLOG_RANKING: frozenset({S.RANKING, S.ABORTED_LOW_GRADE}) | _HALT,
    S.READY_FOR_SCORING: frozenset({S.READY_FOR_EXPORT, S.SCORING_FAILED}) | _HALT,
    # retry: straight back to scoring, or back to ranking when rankings are now incomplete
    S.SCORING_FAILED: frozenset({S.READY_FOR_SCORING, S.RANKING}) | _HALT,
    S.READY_FOR_EXPORT: _HALT,
    S.ABORTED_LOW_GRADE: _HALT,
    # a moderator un-halts: growing if the tree ever won the lottery, else back to review
    S.HALTED_BY_MODERATOR: frozenset({S.GROWING, S.INITIAL_PROMPT_REVIEW}),
}


class InvalidTransition(ValueError):
    """A state change that the lifecycle does not allow."""

    def __init__(self, src: TreeState, dst: TreeState):
        self.src, self.dst = src, dst
        super().__init__(f"tree cannot go from {src.value!r} to {dst.value!r}")


def check_transition(src: TreeState, dst: TreeState) -> None:
    """Raise ``InvalidTransition`` unless ``src -> dst`` is in ``ALLOWED_TRANSITIONS``."""
    if dst not in ALLOWED_TRANSITIONS[TreeState(src)]:
        raise InvalidTransition(TreeState(src), TreeState(dst))


def is_terminal(state: TreeState) -> bool:
    """True for OA's terminal states: the tree is inactive and gets no tasks."""
    return state in TERMINAL_STATES


def is_active(state: TreeState) -> bool:
    """True when the tree is in a state that hands out tasks (OA's ``active`` flag)."""
    return state not in TERMINAL_STATES


def is_finished(state: TreeState) -> bool:
    """True when no normal workflow moves the tree any further."""
    return state in FINISHED_STATES


def accepts_reviews(state: TreeState) -> bool:
    """Label tasks exist only for prompts under review and replies of growing trees (a halted
    tree takes none: a halt freezes a tree under investigation)."""
    return state in (S.INITIAL_PROMPT_REVIEW, S.GROWING)


@dataclass(frozen=True)
class TreeSummary:
    """What the lifecycle needs to know about one tree.

    ``accepted_size`` counts non-deleted messages with a positive review (prompt included);
    ``awaiting_review`` counts non-deleted messages still collecting reviews;
    ``has_extendible_parent`` ignores per-user exclusions (could *anyone* add a reply?);
    ``rankings_per_parent`` has one entry per rankable parent (more than one accepted child of
    the ranked role): the number of completed rankings of that parent; ``rankings_missing``,
    when known, the rankings each of them still needs under the ranking policy.
    """

    state: TreeState
    goal_tree_size: int
    accepted_size: int = 0
    awaiting_review: int = 0
    has_extendible_parent: bool = True
    prompt_review_result: bool | None = None
    prompt_mean_quality: float | None = None
    reply_quality: float | None = None  # shape.TreeShape.reply_quality
    rankings_per_parent: Sequence[int] = ()
    rankings_missing: Sequence[int] | None = None


def next_state(tree: TreeSummary, config: TreeManagerConfig) -> TreeState | None:
    """The state ``tree`` should enter now, or None. Dispatches on the current state."""
    match tree.state:
        case S.INITIAL_PROMPT_REVIEW:
            return state_after_prompt_review(tree, config)
        case S.GROWING:
            return state_after_growing(tree, config)
        case S.RANKING:
            return state_after_ranking(tree, config)
        case _:
            return None


def state_after_prompt_review(tree: TreeSummary, config: TreeManagerConfig) -> TreeState | None:
    """OA ``check_condition_for_prompt_lottery``: an accepted prompt waits for the lottery,
    a rejected one is ``aborted_low_grade``. Grove's ``min_prompt_quality`` (when set) also
    aborts an accepted prompt whose mean quality label is below it."""
    if tree.prompt_review_result is None:
        return None
    if not tree.prompt_review_result:
        return S.ABORTED_LOW_GRADE
    if is_below(tree.prompt_mean_quality, config.min_prompt_quality):
        return S.ABORTED_LOW_GRADE
    return S.PROMPT_LOTTERY_WAITING


def state_after_growing(
    tree: TreeSummary, config: TreeManagerConfig | None = None
) -> TreeState | None:
    """OA ``check_condition_for_ranking_state``: rank once the goal size is reached and nothing
    awaits review; halt a tree whose messages were all deleted.

    Grove also moves to ranking when no parent can take another reply (OA would leave such a
    tree growing forever, e.g. when goal_tree_size exceeds what depth/children limits allow),
    and, with ``min_tree_quality`` set, when the tree's quality score (the mean quality label
    of its accepted replies) is below it: the tree is closed early and what it holds is
    ranked and exported, instead of spending more replies and reviews on it.
    """
    if tree.accepted_size == 0:
        return S.HALTED_BY_MODERATOR
    if tree.awaiting_review > 0:
        return None
    if tree.accepted_size >= tree.goal_tree_size or not tree.has_extendible_parent:
        return S.RANKING
    if config is not None and is_below(tree.reply_quality, config.min_tree_quality):
        return S.RANKING
    return None


def state_after_ranking(tree: TreeSummary, config: TreeManagerConfig) -> TreeState | None:
    """OA ``check_condition_for_scoring_state``: scoring starts when every rankable parent has
    at least ``num_required_rankings`` rankings (trivially true with no rankable parent), or,
    when the summary knows them (``shape.summarize``), no parent misses a ranking the ranking
    policy asks for."""
    if tree.rankings_missing is not None:
        return S.READY_FOR_SCORING if not any(tree.rankings_missing) else None
    if all(n >= config.num_required_rankings for n in tree.rankings_per_parent):
        return S.READY_FOR_SCORING
    return None


def state_after_scoring(succeeded: bool) -> TreeState:
    """OA ``update_message_ranks``: export on success, ``scoring_failed`` on an error."""
    return S.READY_FOR_EXPORT if succeeded else S.SCORING_FAILED


def state_after_backlog_activation(has_rankable_parent: bool) -> TreeState:
    """OA ``activate_backlog_tree``: a backlog tree with nothing to rank is aborted."""
    return S.RANKING if has_rankable_parent else S.ABORTED_LOW_GRADE


def state_after_unhalt(won_prompt_lottery: bool) -> TreeState:
    """OA ``_reactivate_tree``: back to growing if it ever grew, else back to prompt review."""
    return S.GROWING if won_prompt_lottery else S.INITIAL_PROMPT_REVIEW


def is_below(value: float | None, threshold: float | None) -> bool:
    """True when a threshold is set, a value is known, and the value is below it."""
    return threshold is not None and value is not None and value < threshold
