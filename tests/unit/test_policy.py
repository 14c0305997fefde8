import random
from collections import Counter

import pytest

from backend.trees.core.config import DEFAULT_CONFIG
from backend.trees.core.policy import (
    RANDOM_TASK_WEIGHTS,
    Availability,
    ExtendibleParent,
    LotteryCandidate,
    NoTaskAvailable,
    RankingCandidate,
    ReviewCandidate,
    Role,
    TaskCandidates,
    TaskCategory,
    TaskKind,
    TooManyPendingTasks,
    UserActivity,
    backlog_trees_to_activate,
    choose_eligible_task,
    choose_lottery_winner,
    choose_reply_parent,
    choose_task,
    choose_task_kind,
    count_missing_prompts,
    determine_task_availability,
    goal_tree_size_for_new_tree,
    label_task_mode,
    may_rank,
    may_reply,
    may_review,
)

K = TaskKind
ME = "me"


def parent(message_id="p1", role=Role.PROMPTER, **kw) -> ExtendibleParent:
    base = {"message_id": message_id, "tree_id": "t1", "role": role, "author_id": "someone"}
    return ExtendibleParent(**{**base, **kw})


def review(
    message_id="m1", depth=1, role=Role.ASSISTANT, author="someone", free_slots=1
) -> ReviewCandidate:
    return ReviewCandidate(message_id, "t1", role, depth, author, free_slots=free_slots)


def ranking(parent_id="p1", role=Role.ASSISTANT, authors=("a", "b"), free_slots=1):
    children = tuple(f"{parent_id}-c{i}" for i in range(len(authors)))
    return RankingCandidate(
        parent_id, "t1", role, children, frozenset(authors), free_slots=free_slots
    )


def user(**kw) -> UserActivity:
    return UserActivity(user_id=ME, **kw)


# --- availability ------------------------------------------------------------------------


def test_availability_counts_candidates_per_kind():
    candidates = TaskCandidates(
        missing_prompts=2,
        prompts_need_review=(review("r0", depth=0, role=Role.PROMPTER),),
        replies_need_review=(review("r1"), review("r2", role=Role.PROMPTER, depth=2)),
        extendible_parents=(parent("p1"), parent("p2", role=Role.ASSISTANT)),
        incomplete_rankings=(ranking("q1"),),
    )
    counts = determine_task_availability(candidates).as_dict()
    assert counts == {
        "random": 8,
        "initial_prompt": 2,
        "prompter_reply": 1,
        "assistant_reply": 1,
        "rank_initial_prompts": 0,
        "rank_prompter_replies": 0,
        "rank_assistant_replies": 1,
        "label_initial_prompt": 1,
        "label_assistant_reply": 1,
        "label_prompter_reply": 1,
    }


def test_missing_prompts_fill_growing_and_review_slots():
    n = count_missing_prompts(
        DEFAULT_CONFIG, lang="en", growing=7, initial_prompt_review=90, prompt_lottery_waiting=0
    )
    assert n == 3 + 10


def test_missing_prompts_are_capped_by_lottery_places():
    n = count_missing_prompts(
        DEFAULT_CONFIG, lang="en", growing=0, initial_prompt_review=0, prompt_lottery_waiting=248
    )
    assert n == 2


def test_disabled_language_gets_no_initial_prompt_tasks():
    config = DEFAULT_CONFIG.replace(init_prompt_disabled_langs="de,fr")
    n = count_missing_prompts(
        config, lang="fr", growing=0, initial_prompt_review=0, prompt_lottery_waiting=0
    )
    assert n == 0


# --- choosing the kind -------------------------------------------------------------------


def test_requested_kind_without_candidates_is_refused():
    with pytest.raises(NoTaskAvailable):
        choose_task_kind(K.ASSISTANT_REPLY, Availability({K.PROMPTER_REPLY: 3}), random.Random(0))


def test_requested_available_kind_is_served():
    availability = Availability({K.PROMPTER_REPLY: 3})
    assert choose_task_kind(K.PROMPTER_REPLY, availability, random.Random(0)) is K.PROMPTER_REPLY


def test_random_with_nothing_available_is_refused():
    with pytest.raises(NoTaskAvailable):
        choose_task_kind(K.RANDOM, Availability({}), random.Random(0))


def test_random_weights_are_open_assistants():
    assert RANDOM_TASK_WEIGHTS == {
        TaskCategory.RANKING: 10,
        TaskCategory.LABEL_REPLY: 5,
        TaskCategory.LABEL_PROMPT: 5,
        TaskCategory.REPLY: 2,
        TaskCategory.PROMPT: 0.01,
    }


def test_random_draw_follows_category_weights():
    availability = Availability(
        {K.RANK_ASSISTANT_REPLIES: 1, K.LABEL_ASSISTANT_REPLY: 1, K.ASSISTANT_REPLY: 1}
    )
    rng = random.Random(42)
    drawn = Counter(choose_task_kind(K.RANDOM, availability, rng) for _ in range(17_000))
    # weights 10 : 5 : 2 out of 17
    assert drawn[K.RANK_ASSISTANT_REPLIES] == pytest.approx(10_000, rel=0.05)
    assert drawn[K.LABEL_ASSISTANT_REPLY] == pytest.approx(5_000, rel=0.05)
    assert drawn[K.ASSISTANT_REPLY] == pytest.approx(2_000, rel=0.08)


def test_random_draw_is_reproducible_with_the_same_seed():
    availability = Availability({K.RANK_ASSISTANT_REPLIES: 2, K.ASSISTANT_REPLY: 5})
    first = [choose_task_kind(K.RANDOM, availability, random.Random(7)) for _ in range(5)]
    again = [choose_task_kind(K.RANDOM, availability, random.Random(7)) for _ in range(5)]
    assert first == again


# --- exclusion rules ---------------------------------------------------------------------


def test_user_never_reviews_own_message():
    assert not may_review(review(author=ME), user())


def test_user_never_reviews_a_message_twice():
    assert not may_review(review("m1"), user(labelled_message_ids=frozenset({"m1"})))


def test_user_is_not_handed_a_review_handed_to_them_recently():
    recent = frozenset({("m1", K.LABEL_ASSISTANT_REPLY)})
    assert not may_review(review("m1"), user(handled_work=recent))


def test_a_recent_task_of_another_kind_does_not_hide_the_node():
    recent = frozenset({("m1", K.PROMPTER_REPLY)})
    assert may_review(review("m1"), user(handled_work=recent))


def test_a_skipped_review_hides_the_message_from_reviews_only():
    skipped = frozenset({("p1", K.LABEL_PROMPTER_REPLY)})
    assert not may_review(review("p1", role=Role.PROMPTER), user(skipped_work=skipped))
    assert may_reply(parent("p1"), user(skipped_work=skipped))


def test_a_skipped_reply_hides_the_parent_from_replies():
    skipped = frozenset({("p1", K.ASSISTANT_REPLY)})
    assert not may_reply(parent("p1"), user(skipped_work=skipped))


def test_a_skipped_ranking_hides_the_parent_from_rankings():
    skipped = frozenset({("q1", K.RANK_ASSISTANT_REPLIES)})
    assert not may_rank(ranking("q1"), user(skipped_work=skipped))


def test_user_never_answers_own_message():
    assert not may_reply(parent(author_id=ME), user())


def test_user_never_answers_the_same_parent_twice():
    assert not may_reply(parent(child_author_ids=frozenset({ME})), user())


def test_parent_with_a_free_slot_is_handed_out_beside_open_reply_tasks():
    assert may_reply(parent(free_slots=1), user())


def test_parent_whose_slots_are_all_leased_is_not_handed_out():
    assert not may_reply(parent(free_slots=0), user())


def test_review_whose_slots_are_all_leased_is_not_handed_out():
    assert not may_review(review(free_slots=0), user())


def test_ranking_whose_slots_are_all_leased_is_not_handed_out():
    assert not may_rank(ranking(free_slots=0), user())


def test_user_never_ranks_replies_including_their_own():
    assert not may_rank(ranking(authors=("a", ME)), user())


def test_user_never_ranks_a_parent_twice():
    assert not may_rank(ranking("q1"), user(ranked_parent_ids=frozenset({"q1"})))


def test_user_with_too_many_pending_tasks_gets_none():
    candidates = TaskCandidates(missing_prompts=5)
    with pytest.raises(TooManyPendingTasks):
        choose_task(K.RANDOM, candidates, user(pending_tasks=8), DEFAULT_CONFIG, random.Random(0))


def test_choose_task_never_offers_own_message_for_review():
    candidates = TaskCandidates(replies_need_review=(review("mine", author=ME),))
    with pytest.raises(NoTaskAvailable):
        choose_task(K.LABEL_ASSISTANT_REPLY, candidates, user(), DEFAULT_CONFIG, random.Random(0))


# --- reply parents ----------------------------------------------------------------------


def test_lonely_prompter_parent_is_preferred():
    lonely = parent("lonely", active_children_count=1)
    others = [parent(f"p{i}") for i in range(9)]
    rng = random.Random(3)
    picks = Counter(
        choose_reply_parent([lonely, *others], DEFAULT_CONFIG, rng).message_id for _ in range(4000)
    )
    # 0.75 for the lonely one plus 0.25 * 1/10 from the uniform draw
    assert picks["lonely"] / 4000 == pytest.approx(0.775, abs=0.03)


def test_lonely_preference_off_means_uniform():
    config = DEFAULT_CONFIG.replace(p_lonely_child_extension=0.0)
    lonely = parent("lonely", active_children_count=1)
    rng = random.Random(3)
    picks = Counter(
        choose_reply_parent([lonely, parent("other")], config, rng).message_id for _ in range(4000)
    )
    assert picks["lonely"] / 4000 == pytest.approx(0.5, abs=0.03)


# --- choose_task -------------------------------------------------------------------------


def test_random_task_kind_follows_its_target():
    candidates = TaskCandidates(extendible_parents=(parent("p1", role=Role.ASSISTANT),))
    chosen = choose_task(K.RANDOM, candidates, user(), DEFAULT_CONFIG, random.Random(0))
    assert chosen.kind is K.PROMPTER_REPLY
    assert chosen.target.message_id == "p1"


def test_requested_role_narrows_the_candidates():
    candidates = TaskCandidates(
        extendible_parents=(parent("p1", role=Role.ASSISTANT), parent("p2"))
    )
    for seed in range(10):
        chosen = choose_task(
            K.ASSISTANT_REPLY, candidates, user(), DEFAULT_CONFIG, random.Random(seed)
        )
        assert chosen.target.message_id == "p2"


def test_initial_prompt_has_no_target():
    candidates = TaskCandidates(missing_prompts=1)
    chosen = choose_task(K.RANDOM, candidates, user(), DEFAULT_CONFIG, random.Random(0))
    assert chosen.kind is K.INITIAL_PROMPT
    assert chosen.target is None


def test_choice_does_not_depend_on_candidate_order():
    parents = tuple(parent(f"p{i}") for i in range(6))
    a = choose_task(
        K.RANDOM,
        TaskCandidates(extendible_parents=parents),
        user(),
        DEFAULT_CONFIG,
        random.Random(5),
    )
    b = choose_task(
        K.RANDOM,
        TaskCandidates(extendible_parents=parents[::-1]),
        user(),
        DEFAULT_CONFIG,
        random.Random(5),
    )
    assert a == b


# --- label modes, goal sizes, backlog, lottery --------------------------------------------


def test_prompt_labelling_is_full_by_default():
    spec = label_task_mode(Role.PROMPTER, 0, DEFAULT_CONFIG, random.Random(0))
    assert spec.mode == "full"
    assert spec.valid_labels == DEFAULT_CONFIG.labels_initial_prompt
    assert spec.mandatory_labels == ("spam",)
    assert spec.disposition == "quality"


def test_simple_prompt_labelling_asks_mandatory_labels_and_lang_mismatch():
    config = DEFAULT_CONFIG.replace(p_full_labeling_review_prompt=0.0)
    spec = label_task_mode(Role.PROMPTER, 0, config, random.Random(0))
    assert spec == ("simple", ("spam", "lang_mismatch"), ("spam",))
    assert spec.disposition == "spam"


def test_simple_reply_labelling_adds_quality():
    config = DEFAULT_CONFIG.replace(p_full_labeling_review_reply_prompter=0.0)
    spec = label_task_mode(Role.PROMPTER, 2, config, random.Random(0))
    assert spec.valid_labels == ("spam", "lang_mismatch", "quality")


def test_explicitly_requested_reply_labelling_is_always_full():
    config = DEFAULT_CONFIG.replace(p_full_labeling_review_reply_prompter=0.0)
    spec = label_task_mode(Role.PROMPTER, 2, config, random.Random(0), explicit_request=True)
    assert spec.mode == "full"


def test_prompter_reply_labelling_is_mostly_simple():
    rng = random.Random(11)
    modes = Counter(
        label_task_mode(Role.PROMPTER, 2, DEFAULT_CONFIG, rng).mode for _ in range(4000)
    )
    assert modes["full"] / 4000 == pytest.approx(0.25, abs=0.03)


def test_goal_size_is_fixed_unless_random_is_on():
    assert goal_tree_size_for_new_tree(DEFAULT_CONFIG, random.Random(0)) == 12


def test_random_goal_size_stays_within_bounds():
    config = DEFAULT_CONFIG.replace(random_goal_tree_size=True)
    rng = random.Random(0)
    sizes = {goal_tree_size_for_new_tree(config, rng) for _ in range(500)}
    assert sizes == set(range(5, 13))


def test_backlog_activation_happens_with_its_probability():
    rng = random.Random(1)
    hits = sum(backlog_trees_to_activate(rng, DEFAULT_CONFIG, 100) for _ in range(5000))
    assert hits / 5000 == pytest.approx(0.1, abs=0.02)


def test_too_few_active_rankings_activate_a_backlog_tree():
    config = DEFAULT_CONFIG.replace(p_activate_backlog_tree=0.0, min_active_rankings_per_lang=5)
    assert backlog_trees_to_activate(random.Random(0), config, 4) == 1
    assert backlog_trees_to_activate(random.Random(0), config, 5) == 0


def test_lottery_with_no_waiting_prompt_has_no_winner():
    assert choose_lottery_winner([], random.Random(0)) is None


def test_lottery_favours_authors_with_top_ranked_replies():
    candidates = [LotteryCandidate("t-top", "top", 9), LotteryCandidate("t-new", "new", 0)]
    rng = random.Random(2)
    wins = Counter(choose_lottery_winner(candidates, rng).tree_id for _ in range(5000))
    assert wins["t-top"] / 5000 == pytest.approx(10 / 11, abs=0.02)


# --- active selection -----------------------------------------------------------------------


def test_active_selection_draws_in_proportion_to_the_weights():
    import dataclasses

    heavy = dataclasses.replace(review("heavy"), weight=0.4)
    light = dataclasses.replace(review("light"), weight=0.1)
    eligible = TaskCandidates(replies_need_review=(heavy, light))
    active = DEFAULT_CONFIG.replace(selection_policy="active")
    rng = random.Random(7)
    drawn = Counter(
        choose_task(K.LABEL_ASSISTANT_REPLY, eligible, user(), active, rng).target.message_id
        for _ in range(4000)
    )
    assert drawn["heavy"] / 4000 == pytest.approx(0.8, abs=0.03)
    rng = random.Random(7)
    drawn = Counter(
        choose_task(
            K.LABEL_ASSISTANT_REPLY, eligible, user(), DEFAULT_CONFIG, rng
        ).target.message_id
        for _ in range(4000)
    )
    assert drawn["heavy"] / 4000 == pytest.approx(0.5, abs=0.03)  # OA: uniform


def test_active_selection_weights_rankings_too():
    import dataclasses

    settled = dataclasses.replace(ranking("settled"), weight=0.01)
    disputed = dataclasses.replace(ranking("disputed"), weight=0.99)
    eligible = TaskCandidates(incomplete_rankings=(settled, disputed))
    active = DEFAULT_CONFIG.replace(selection_policy="active")
    rng = random.Random(3)
    drawn = Counter(
        choose_task(K.RANK_ASSISTANT_REPLIES, eligible, user(), active, rng).target.parent_id
        for _ in range(1000)
    )
    assert drawn["disputed"] > 970


def test_the_fixed_policy_draws_exactly_as_before_whatever_the_weights():
    """OA's draw ignores the weights and consumes the rng as before (seeded runs repeat)."""
    import dataclasses

    plain = tuple(review(f"m{i}") for i in range(5))
    weighted = tuple(dataclasses.replace(c, weight=0.01 + i) for i, c in enumerate(plain))
    picks = []
    for candidates in (plain, weighted):
        rng = random.Random(11)
        eligible = TaskCandidates(replies_need_review=candidates)
        picks.append(
            [
                choose_task(K.RANDOM, eligible, user(), DEFAULT_CONFIG, rng).target.message_id
                for _ in range(50)
            ]
        )
    assert picks[0] == picks[1]


# --- first-review routing -------------------------------------------------------------------

ROUTED = DEFAULT_CONFIG.replace(first_review_min_informativeness=0.5)
FRESH_AND_REVIEWED = TaskCandidates(
    replies_need_review=(
        ReviewCandidate("fresh", "t1", Role.ASSISTANT, 1, "someone", review_count=0),
        ReviewCandidate("reviewed", "t1", Role.ASSISTANT, 1, "someone", review_count=1),
    )
)


def _reviewed_targets(config, informativeness, candidates=FRESH_AND_REVIEWED):
    return {
        choose_eligible_task(
            K.LABEL_ASSISTANT_REPLY, candidates, config, random.Random(seed), informativeness
        ).target.message_id
        for seed in range(40)
    }


def test_low_skill_reviewer_is_handed_a_message_already_reviewed():
    assert _reviewed_targets(ROUTED, 0.3) == {"reviewed"}


def test_low_skill_reviewer_gets_a_first_review_when_nothing_else_is_eligible():
    only_fresh = TaskCandidates(replies_need_review=FRESH_AND_REVIEWED.replies_need_review[:1])
    assert _reviewed_targets(ROUTED, 0.3, only_fresh) == {"fresh"}


def test_skilled_reviewer_draws_among_all_messages_under_routing():
    assert _reviewed_targets(ROUTED, 0.8) == {"fresh", "reviewed"}


def test_routing_off_by_default_ignores_the_reviewers_skill():
    assert DEFAULT_CONFIG.first_review_min_informativeness == 0
    assert _reviewed_targets(DEFAULT_CONFIG, 0.0) == {"fresh", "reviewed"}


def test_routing_changes_the_message_not_the_task_category_drawn():
    candidates = TaskCandidates(
        replies_need_review=FRESH_AND_REVIEWED.replies_need_review,
        extendible_parents=(parent("p1"),),
    )
    draws = {
        config: [
            choose_eligible_task(K.RANDOM, candidates, config, random.Random(seed), 0.1)
            for seed in range(60)
        ]
        for config in (DEFAULT_CONFIG, ROUTED)
    }
    assert [c.kind for c in draws[DEFAULT_CONFIG]] == [c.kind for c in draws[ROUTED]]
    reviewed = {
        config: {c.target.message_id for c in chosen if c.kind is K.LABEL_ASSISTANT_REPLY}
        for config, chosen in draws.items()
    }
    assert reviewed == {DEFAULT_CONFIG: {"fresh", "reviewed"}, ROUTED: {"reviewed"}}
