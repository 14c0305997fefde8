import pytest

from backend.trees.core.config import DEFAULT_CONFIG
from backend.trees.core.lifecycle import (
    ALLOWED_TRANSITIONS,
    InvalidTransition,
    TreeState,
    TreeSummary,
    check_transition,
    is_active,
    is_finished,
    is_terminal,
    next_state,
    state_after_backlog_activation,
    state_after_scoring,
    state_after_unhalt,
)

S = TreeState


def growing(**kw) -> TreeSummary:
    base = {"state": S.GROWING, "goal_tree_size": 12, "accepted_size": 5}
    return TreeSummary(**{**base, **kw})


def test_state_values_are_open_assistants():
    assert {s.value for s in TreeState} == {
        "initial_prompt_review",
        "growing",
        "ranking",
        "ready_for_scoring",
        "ready_for_export",
        "scoring_failed",
        "aborted_low_grade",
        "halted_by_moderator",
        "backlog_ranking",
        "prompt_lottery_waiting",
    }


def test_terminal_states_are_open_assistants_inactive_states():
    terminal = {s for s in TreeState if is_terminal(s)}
    assert terminal == {
        S.READY_FOR_EXPORT,
        S.ABORTED_LOW_GRADE,
        S.SCORING_FAILED,
        S.HALTED_BY_MODERATOR,
        S.BACKLOG_RANKING,
        S.PROMPT_LOTTERY_WAITING,
    }
    assert all(is_active(s) != is_terminal(s) for s in TreeState)


def test_finished_states_are_terminal():
    assert all(is_terminal(s) for s in TreeState if is_finished(s))


def test_every_state_has_a_transition_row():
    assert set(ALLOWED_TRANSITIONS) == set(TreeState)


def test_moderator_can_halt_any_other_state():
    for state in TreeState:
        if state is not S.HALTED_BY_MODERATOR:
            check_transition(state, S.HALTED_BY_MODERATOR)


def test_growing_cannot_jump_to_export():
    with pytest.raises(InvalidTransition):
        check_transition(S.GROWING, S.READY_FOR_EXPORT)


def test_export_is_never_left_except_by_halt():
    assert ALLOWED_TRANSITIONS[S.READY_FOR_EXPORT] == {S.HALTED_BY_MODERATOR}


def test_accepted_prompt_waits_for_lottery():
    tree = TreeSummary(S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=True)
    assert next_state(tree, DEFAULT_CONFIG) is S.PROMPT_LOTTERY_WAITING


def test_rejected_prompt_is_aborted_low_grade():
    tree = TreeSummary(S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=False)
    assert next_state(tree, DEFAULT_CONFIG) is S.ABORTED_LOW_GRADE


def test_prompt_under_review_stays():
    tree = TreeSummary(S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=None)
    assert next_state(tree, DEFAULT_CONFIG) is None


def test_low_quality_prompt_is_aborted_when_gate_is_set():
    config = DEFAULT_CONFIG.replace(min_prompt_quality=0.5)
    tree = TreeSummary(
        S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=True, prompt_mean_quality=0.4
    )
    assert next_state(tree, config) is S.ABORTED_LOW_GRADE


def test_prompt_exactly_at_the_quality_gate_passes():
    config = DEFAULT_CONFIG.replace(min_prompt_quality=0.5)
    tree = TreeSummary(
        S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=True, prompt_mean_quality=0.5
    )
    assert next_state(tree, config) is S.PROMPT_LOTTERY_WAITING


def test_low_quality_prompt_passes_when_gate_is_off():
    tree = TreeSummary(
        S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=True, prompt_mean_quality=0.1
    )
    assert next_state(tree, DEFAULT_CONFIG) is S.PROMPT_LOTTERY_WAITING


def test_growing_tree_ranks_at_goal_size():
    assert next_state(growing(accepted_size=12), DEFAULT_CONFIG) is S.RANKING


def test_growing_tree_waits_for_pending_reviews_at_goal_size():
    assert next_state(growing(accepted_size=12, awaiting_review=1), DEFAULT_CONFIG) is None


def test_growing_tree_below_goal_keeps_growing():
    assert next_state(growing(accepted_size=11), DEFAULT_CONFIG) is None


def test_growing_tree_without_extendible_parent_ranks():
    assert next_state(growing(has_extendible_parent=False), DEFAULT_CONFIG) is S.RANKING


def test_growing_tree_with_no_messages_left_is_halted():
    assert next_state(growing(accepted_size=0), DEFAULT_CONFIG) is S.HALTED_BY_MODERATOR


def test_ranking_completes_when_every_parent_has_required_rankings():
    tree = TreeSummary(S.RANKING, 12, accepted_size=12, rankings_per_parent=(3, 4))
    assert next_state(tree, DEFAULT_CONFIG) is S.READY_FOR_SCORING


def test_ranking_waits_for_a_parent_short_of_rankings():
    tree = TreeSummary(S.RANKING, 12, accepted_size=12, rankings_per_parent=(3, 2))
    assert next_state(tree, DEFAULT_CONFIG) is None


def test_ranking_without_rankable_parent_goes_to_scoring():
    tree = TreeSummary(S.RANKING, 12, accepted_size=3, rankings_per_parent=())
    assert next_state(tree, DEFAULT_CONFIG) is S.READY_FOR_SCORING


def test_scoring_success_exports_and_failure_is_recorded():
    assert state_after_scoring(True) is S.READY_FOR_EXPORT
    assert state_after_scoring(False) is S.SCORING_FAILED


def test_backlog_tree_without_anything_to_rank_is_aborted():
    assert state_after_backlog_activation(False) is S.ABORTED_LOW_GRADE
    assert state_after_backlog_activation(True) is S.RANKING


def test_unhalted_tree_returns_to_growing_only_if_it_won_the_lottery():
    assert state_after_unhalt(True) is S.GROWING
    assert state_after_unhalt(False) is S.INITIAL_PROMPT_REVIEW


@pytest.mark.parametrize(
    "state", [S.READY_FOR_EXPORT, S.ABORTED_LOW_GRADE, S.BACKLOG_RANKING, S.SCORING_FAILED]
)
def test_states_without_automatic_decision_stay(state):
    assert next_state(TreeSummary(state, 12, accepted_size=12), DEFAULT_CONFIG) is None


def test_decisions_only_propose_allowed_transitions():
    cases = [
        TreeSummary(S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=True),
        TreeSummary(S.INITIAL_PROMPT_REVIEW, 12, prompt_review_result=False),
        growing(accepted_size=12),
        growing(accepted_size=0),
        TreeSummary(S.RANKING, 12, rankings_per_parent=(5,)),
    ]
    for tree in cases:
        check_transition(tree.state, next_state(tree, DEFAULT_CONFIG))
