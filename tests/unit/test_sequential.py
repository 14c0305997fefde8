"""The adaptive review and ranking policies: decisions, their minimums, and OA's default."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.trees.core import shape
from backend.trees.core.config import DEFAULT_CONFIG, ConfigError, TreeManagerConfig
from backend.trees.core.consensus import ReviewOutcome, message_ranks, ranked_pairs
from backend.trees.core.lifecycle import TreeState
from backend.trees.core.reliability import ReviewerSkill
from backend.trees.core.sequential import (
    MIN_SELECTION_WEIGHT,
    WeightedVote,
    kendalls_w,
    ranking_decision,
    ranking_information,
    rankings_needed,
    review_decision,
    review_information,
    reviews_needed,
    skill_of,
)
from backend.trees.core.task_kinds import Role

SEQUENTIAL = DEFAULT_CONFIG.replace(review_policy="sequential", ranking_policy="adaptive")
RELIABLE = ReviewerSkill(0.97, 0.95)
UNKNOWN = ReviewerSkill(0.9, 0.8)


def votes(*verdicts: bool, skill: ReviewerSkill = RELIABLE) -> list[WeightedVote]:
    return [WeightedVote(f"r{i}", v, skill) for i, v in enumerate(verdicts)]


# --- OA's fixed policy stays the default ----------------------------------------------------


def test_default_config_is_oas_fixed_policy():
    assert DEFAULT_CONFIG.review_policy == "fixed"
    assert DEFAULT_CONFIG.ranking_policy == "fixed"
    assert reviews_needed(True, 5, DEFAULT_CONFIG) == DEFAULT_CONFIG.num_reviews_initial_prompt
    assert reviews_needed(False, 5, DEFAULT_CONFIG) == DEFAULT_CONFIG.num_reviews_reply
    assert rankings_needed(5, DEFAULT_CONFIG) == DEFAULT_CONFIG.num_required_rankings


def test_unknown_policy_names_and_inverted_bounds_are_refused():
    with pytest.raises(ConfigError) as found:
        TreeManagerConfig.from_dict(
            {"review_policy": "magic", "min_reviews": 4, "max_reviews": 2, "min_rankings": 9}
        )
    assert set(found.value.errors) == {"review_policy", "min_reviews", "min_rankings"}


# --- sequential review ------------------------------------------------------------------------


def test_two_agreeing_reliable_reviewers_accept():
    decision = review_decision(votes(True, True), SEQUENTIAL)
    assert decision.outcome is ReviewOutcome.ACCEPTED
    assert decision.reason == "confident"


def test_disagreement_asks_one_more_reviewer():
    decision = review_decision(votes(True, False), SEQUENTIAL)
    assert decision.outcome is None
    assert decision.reviews_required == 3
    assert decision.reason == "uncertain"


def test_two_reliable_spam_verdicts_reject():
    assert review_decision(votes(False, False), SEQUENTIAL).outcome is ReviewOutcome.REJECTED


def test_at_max_reviews_the_more_likely_outcome_is_taken():
    config = SEQUENTIAL.replace(max_reviews=3, review_confidence=0.9999)
    decision = review_decision(votes(True, False, True, skill=UNKNOWN), config)
    assert decision.outcome is ReviewOutcome.ACCEPTED
    assert decision.reason == "max_reviews"


def test_a_spammers_verdicts_do_not_outvote_reliable_reviewers():
    spammer = ReviewerSkill(0.5, 0.5)
    mixed = [*votes(True, True), WeightedVote("spammer", False, spammer)]
    assert review_decision(mixed, SEQUENTIAL).outcome is ReviewOutcome.ACCEPTED


def test_the_explanation_lists_votes_weights_and_posterior():
    explained = review_decision(votes(True, False), SEQUENTIAL).explain()
    assert explained["policy"] == "sequential"
    assert 0 < explained["posterior_acceptable"] < 1
    assert [v["acceptable"] for v in explained["votes"]] == [True, False]
    assert explained["votes"][0]["weight"] > 0 > explained["votes"][1]["weight"]


skills = st.builds(
    ReviewerSkill,
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),  # always_approves
)
configs = st.builds(
    lambda lo, extra, confidence, prior: SEQUENTIAL.replace(
        min_reviews=lo,
        max_reviews=lo + extra,
        review_confidence=confidence,
        review_prior_acceptable=prior,
    ),
    st.integers(1, 5),
    st.integers(0, 4),
    st.floats(0.5, 1.0),
    st.floats(0.01, 0.99),
)


@given(
    configs,
    st.lists(st.tuples(st.booleans(), skills), max_size=12),
    st.one_of(st.none(), st.floats(0.01, 0.99)),
)
def test_no_review_decision_with_fewer_than_min_reviews(config, raw, author_prior):
    cast = [WeightedVote(f"r{i}", v, s) for i, (v, s) in enumerate(raw)]
    decision = review_decision(cast, config, prior=author_prior)
    if len(cast) < config.min_reviews:
        assert decision.outcome is None
    if len(cast) >= config.max_reviews:
        assert decision.outcome is not None
    if decision.outcome is None:
        assert len(cast) < decision.reviews_required <= config.max_reviews


@given(configs, st.integers(0, 20))
def test_sequential_reviews_needed_stay_between_min_and_max(config, asked):
    needed = reviews_needed(False, asked, config)
    assert config.min_reviews <= needed <= config.max_reviews


# --- adaptive rankings ------------------------------------------------------------------------


def test_kendalls_w_is_one_for_agreement_and_zero_for_opposites():
    assert kendalls_w([["a", "b", "c"]] * 4) == pytest.approx(1.0)
    assert kendalls_w([["a", "b", "c"], ["c", "b", "a"]]) == pytest.approx(0.0)


def test_kendalls_w_known_value():
    # Rank sums 4, 5, 9 around their mean 6 over 3 raters and 3 items: S = 4 + 1 + 9 = 14,
    # W = 12 S / (m^2 (n^3 - n)) = 168 / 216.
    rankings = [["a", "b", "c"], ["b", "a", "c"], ["a", "b", "c"]]
    assert kendalls_w(rankings) == pytest.approx(168 / 216)


def test_agreeing_rankers_are_enough_at_min_rankings():
    decision = ranking_decision([["a", "b", "c"], ["a", "b", "c"]], SEQUENTIAL)
    assert decision.done and decision.reason == "agreed"


def test_disagreeing_rankers_ask_for_one_more():
    decision = ranking_decision([["a", "b", "c"], ["c", "b", "a"]], SEQUENTIAL)
    assert not decision.done
    assert decision.rankings_required == 3


def test_an_uninformative_rankers_ranking_does_not_count_towards_the_minimum():
    decision = ranking_decision([["a", "b"], ["a", "b"]], SEQUENTIAL, weights=[0.9, 0.0])
    assert not decision.done
    assert decision.reason == "too_few_informative"


ranking_configs = st.builds(
    lambda lo, extra, agreement: SEQUENTIAL.replace(
        min_rankings=lo, max_rankings=lo + extra, ranking_agreement=agreement
    ),
    st.integers(1, 4),
    st.integers(0, 3),
    st.floats(0.0, 1.0),
)


@given(
    ranking_configs,
    st.lists(st.permutations(["a", "b", "c"]), max_size=8),
    st.data(),
)
def test_no_ranking_decision_with_fewer_than_min_rankings(config, rankings, data):
    weights = data.draw(
        st.lists(st.floats(0.0, 1.0), min_size=len(rankings), max_size=len(rankings))
    )
    decision = ranking_decision(rankings, config, weights)
    if len(rankings) < config.min_rankings:
        assert not decision.done
    if len(rankings) >= config.max_rankings:
        assert decision.done
    if not decision.done:
        assert decision.rankings_required > len(rankings) or len(rankings) < config.min_rankings


def test_weighted_ranked_pairs_ignores_a_zero_weight_ranking():
    rankings = [["a", "b", "c"], ["c", "b", "a"], ["c", "b", "a"]]
    assert ranked_pairs(rankings)[0] == "c"
    assert ranked_pairs(rankings, [1.0, 0.0, 0.0]) == ["a", "b", "c"]
    assert ranked_pairs(rankings, [1.0, 1.0, 1.0]) == ranked_pairs(rankings)
    assert message_ranks(rankings, weights=[1.0, 0.2, 0.2]) == {"a": 0, "b": 1, "c": 2}


# --- the tree's shape follows the policy ----------------------------------------------------


def test_review_room_follows_what_the_sequential_policy_asked():
    reply = shape.Node(id="r", parent_id="p", depth=1, role=Role.ASSISTANT, review_count=2)
    asked = dataclasses.replace(reply, reviews_asked=4)
    assert shape.review_room(reply, SEQUENTIAL) == 0
    assert shape.review_room(asked, SEQUENTIAL) == 2
    assert shape.review_room(asked, DEFAULT_CONFIG) == 1  # fixed: num_reviews_reply = 3


def test_ranking_room_follows_what_the_adaptive_policy_asked():
    kids = tuple(
        shape.Node(id=k, parent_id="p", depth=1, role=Role.ASSISTANT, review_result=True)
        for k in ("a", "b")
    )
    prompt = shape.Node(
        id="p", parent_id=None, depth=0, role=Role.PROMPTER, review_result=True, rankings_asked=3
    )
    tree = shape.TreeShape(
        tree_id="t",
        state=TreeState.RANKING,
        goal_tree_size=3,
        nodes=(prompt, *kids),
        rankings_done={"p": 2},
    )
    assert shape.ranking_room("p", tree, SEQUENTIAL) == 1
    assert shape.ranking_room("p", tree, DEFAULT_CONFIG) == 1  # num_required_rankings = 3
    assert shape.summarize(tree, SEQUENTIAL).rankings_missing == (1,)
    done = dataclasses.replace(tree, rankings_done={"p": 3})
    assert shape.summarize(done, SEQUENTIAL).rankings_missing == (0,)


def test_a_newcomer_may_approve_everything_with_the_prior_share():
    newcomer = skill_of("new", {}, SEQUENTIAL)
    assert newcomer.always_approves == SEQUENTIAL.always_approver_prior == 0.05
    assert newcomer.vote_weight(True) < UNKNOWN.vote_weight(True)
    assert newcomer.vote_weight(False) == UNKNOWN.vote_weight(False)
    off = SEQUENTIAL.replace(always_approver_prior=0.0)
    assert skill_of("new", {}, off) == UNKNOWN
    assert skill_of("new", {}, SEQUENTIAL.replace(reviewer_reliability=False)) == UNKNOWN


def test_a_likely_always_approver_never_accepts_alone_on_a_clean_record():
    """At the ceiling of an author's record (0.96), an approval from a reviewer who is more
    likely than not to approve everything stays below the grove preset's 0.98."""
    config = SEQUENTIAL.replace(min_reviews=1, review_confidence=0.98)
    for sensitivity, specificity in ((0.9, 0.8), (0.99, 0.9), (1.0, 0.99)):
        lazy = ReviewerSkill(sensitivity, specificity, always_approves=0.5)
        decision = review_decision([WeightedVote("r", True, lazy)], config, prior=0.96)
        assert decision.outcome is None


def test_an_authors_low_prior_asks_a_second_review_where_the_base_prior_accepts():
    config = SEQUENTIAL.replace(min_reviews=1, review_confidence=0.98)
    one_ok = votes(True, skill=ReviewerSkill(0.97, 0.97))
    assert review_decision(one_ok, config).outcome is ReviewOutcome.ACCEPTED
    suspicious = review_decision(one_ok, config, prior=0.4)
    assert suspicious.outcome is None
    assert suspicious.reviews_required == 2
    assert suspicious.explain()["prior_acceptable"] == 0.4


# --- active selection -----------------------------------------------------------------------


def test_review_information_is_largest_for_a_disputed_message():
    disputed, likely, nearly_sure = (review_information(p, UNKNOWN) for p in (0.5, 0.9, 0.99))
    assert disputed > likely > nearly_sure >= MIN_SELECTION_WEIGHT
    # A known value: p = 0.5, sensitivity 0.9, specificity 0.8. P(says ok) = 0.55, after
    # "ok" p = 0.45 / 0.55, after "bad" p = 0.05 / 0.45; 1 - E[H] = 0.3973 bits.
    assert review_information(0.5, UNKNOWN) == pytest.approx(0.3973, abs=1e-4)


def test_review_information_is_the_mutual_information_of_verdict_and_truth():
    """Against a direct computation from the joint distribution of (truth, verdict)."""
    import math

    for p in (0.05, 0.3, 0.5, 0.7, 0.96):
        s, t = RELIABLE.sensitivity, RELIABLE.specificity
        joint = {
            (True, True): p * s,
            (True, False): p * (1 - s),
            (False, True): (1 - p) * (1 - t),
            (False, False): (1 - p) * t,
        }
        truth = {True: p, False: 1 - p}
        said = {v: joint[(True, v)] + joint[(False, v)] for v in (True, False)}
        mutual = sum(
            q * math.log2(q / (truth[a] * said[v])) for (a, v), q in joint.items() if q > 0
        )
        assert review_information(p, RELIABLE) == pytest.approx(max(mutual, 0.01), abs=1e-9)


def test_an_uninformative_reviewer_brings_no_information():
    coin = ReviewerSkill(0.5, 0.5)
    assert review_information(0.5, coin) == MIN_SELECTION_WEIGHT


def test_ranking_information_follows_disagreement():
    assert ranking_information(None) == 1.0  # nothing known yet
    assert ranking_information(0.2) == pytest.approx(0.8)
    assert ranking_information(0.9) == pytest.approx(0.1)
    assert ranking_information(1.0) == MIN_SELECTION_WEIGHT


def test_ready_work_carries_the_weights_of_the_stored_evidence():
    from backend.trees.core.task_kinds import TaskKind

    config = SEQUENTIAL.replace(min_reviews=1)
    prompt = shape.Node("p", None, 0, Role.PROMPTER, review_result=True)
    fresh = shape.Node("a", "p", 1, Role.ASSISTANT, review_result=None)
    disputed = shape.Node(
        "b",
        "p",
        1,
        Role.ASSISTANT,
        review_result=None,
        reviews_asked=2,
        review_count=1,
        review_posterior=0.5,
    )
    tree = shape.TreeShape(
        "t", TreeState.GROWING, goal_tree_size=3, nodes=(prompt, fresh, disputed)
    )
    weights = {
        item.node_id: item.weight
        for item in shape.ready_work(tree, config)
        if item.kind is TaskKind.LABEL_ASSISTANT_REPLY
    }
    assert weights["b"] == pytest.approx(review_information(0.5, UNKNOWN), abs=1e-4)
    assert weights["a"] == pytest.approx(review_information(0.9, UNKNOWN), abs=1e-4)
    assert weights["b"] > weights["a"]


@given(
    configs,
    st.sampled_from(["fixed", "active"]),
    st.lists(st.tuples(st.booleans(), skills), max_size=8),
)
def test_the_selection_policy_never_changes_a_review_decision(config, selection, raw):
    cast = [WeightedVote(f"r{i}", v, s) for i, (v, s) in enumerate(raw)]
    decision = review_decision(cast, config.replace(selection_policy=selection))
    assert decision == review_decision(cast, config)
    if len(cast) < config.min_reviews:
        assert decision.outcome is None
