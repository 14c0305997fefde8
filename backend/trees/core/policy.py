"""Which task a user gets next and on which node. Pure Python, randomness injected.

The persistence layer hands in small frozen value objects (candidates for each task kind and
what it knows about the requesting user); these functions apply Open-Assistant's tree-manager
rules (``TreeManager.next_task`` and its queries) and return a decision. Every random draw goes
through the ``random.Random`` passed in, and candidates are sorted first, so a seeded run does
not depend on the order in which a query returned rows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from backend.trees.core.candidates import (
    Availability,
    ChosenTask,
    ExtendibleParent,
    LabelTaskSpec,
    LotteryCandidate,
    NoTaskAvailable,
    RankingCandidate,
    ReviewCandidate,
    TaskCandidates,
    TooManyPendingTasks,
    UserActivity,
)
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.sequential import SelectionPolicy
from backend.trees.core.task_kinds import (
    _CATEGORY_ORDER,
    CATEGORY_OF,
    KINDS_OF_CATEGORY,
    RANDOM_TASK_WEIGHTS,
    K,
    Role,
    TaskCategory,
    TaskKind,
)

__all__ = [
    "CATEGORY_OF",
    "RANDOM_TASK_WEIGHTS",
    "Availability",
    "ChosenTask",
    "ExtendibleParent",
    "LabelTaskSpec",
    "LotteryCandidate",
    "NoTaskAvailable",
    "RankingCandidate",
    "ReviewCandidate",
    "Role",
    "TaskCandidates",
    "TaskCategory",
    "TaskKind",
    "TooManyPendingTasks",
    "UserActivity",
]


# --- task kinds ----------------------------------------------------------------------------


def reply_kind_for(parent_role: Role) -> TaskKind:
    """Replies alternate roles: an assistant message gets a prompter reply and vice versa."""
    return K.PROMPTER_REPLY if parent_role is Role.ASSISTANT else K.ASSISTANT_REPLY


def label_kind_for(candidate: ReviewCandidate) -> TaskKind:
    if candidate.is_prompt:
        return K.LABEL_INITIAL_PROMPT
    if candidate.role is Role.ASSISTANT:
        return K.LABEL_ASSISTANT_REPLY
    return K.LABEL_PROMPTER_REPLY


def rank_kind_for(role_of_children: Role) -> TaskKind:
    if role_of_children is Role.ASSISTANT:
        return K.RANK_ASSISTANT_REPLIES
    return K.RANK_PROMPTER_REPLIES


def kind_of(target: ReviewCandidate | ExtendibleParent | RankingCandidate) -> TaskKind:
    """The task kind that works on ``target``."""
    if isinstance(target, ReviewCandidate):
        return label_kind_for(target)
    if isinstance(target, ExtendibleParent):
        return reply_kind_for(target.role)
    return rank_kind_for(target.role_of_children)


# --- structural rules ----------------------------------------------------------------------


def count_missing_prompts(
    config: TreeManagerConfig,
    *,
    lang: str,
    growing: int,
    initial_prompt_review: int,
    prompt_lottery_waiting: int,
) -> int:
    """How many initial prompts to ask for (OA ``_prompt_lottery`` return value).

    Free growing slots (``max_active_trees``) plus free review slots
    (``max_initial_prompt_review``), capped by the free lottery places
    (``max_prompt_lottery_waiting``); zero for a language in ``init_prompt_disabled_langs``.
    Pass the counts *after* the lottery has activated its winners.
    """
    if lang in config.init_prompt_disabled_langs_list:
        return 0
    free_growing = max(0, config.max_active_trees - growing)
    free_review = max(0, config.max_initial_prompt_review - initial_prompt_review)
    free_lottery = max(0, config.max_prompt_lottery_waiting - prompt_lottery_waiting)
    return min(free_growing + free_review, free_lottery)


# OA's _prompt_lottery(max_activate=2) on a task request: activating many trees in one
# transaction deadlocked OA's database in production, so each draw activates at most two.
LOTTERY_MAX_ACTIVATIONS_PER_DRAW = 2


def trees_to_activate(config: TreeManagerConfig, *, growing: int) -> int:
    """Lottery winners to draw now: the free ``max_active_trees`` growing slots, at most
    ``LOTTERY_MAX_ACTIVATIONS_PER_DRAW``."""
    return min(max(0, config.max_active_trees - growing), LOTTERY_MAX_ACTIVATIONS_PER_DRAW)


# --- per-user exclusion rules --------------------------------------------------------------


def has_too_many_pending(user: UserActivity, config: TreeManagerConfig) -> bool:
    """OA: a user with ``max_pending_tasks_per_user`` open recent tasks gets no new task."""
    return user.pending_tasks >= config.max_pending_tasks_per_user


def may_review(candidate: ReviewCandidate, user: UserActivity) -> bool:
    """A free slot; never one's own message, never a message already reviewed (through a
    label task), never one the user skipped or was handed within ``recent_tasks_span_sec``
    for review."""
    return (
        candidate.free_slots > 0
        and candidate.author_id != user.user_id
        and candidate.message_id not in user.labelled_message_ids
        and not user.excludes(candidate.message_id, label_kind_for(candidate))
    )


def may_reply(parent: ExtendibleParent, user: UserActivity) -> bool:
    """A free slot (several people may answer one parent, up to the replies it may still
    take: leases, not blocks); never one's own message, never a parent the user already
    answered with a live reply, never one the user skipped or was handed within
    ``recent_tasks_span_sec`` for a reply."""
    return (
        parent.free_slots > 0
        and parent.author_id != user.user_id
        and user.user_id not in parent.child_author_ids
        and not user.excludes(parent.message_id, reply_kind_for(parent.role))
    )


def may_rank(candidate: RankingCandidate, user: UserActivity) -> bool:
    """A free slot; no ranking of replies among which the user wrote a live one; no parent
    ranked twice; never one the user skipped or was handed within ``recent_tasks_span_sec``
    for a ranking."""
    return (
        candidate.free_slots > 0
        and user.user_id not in candidate.child_author_ids
        and candidate.parent_id not in user.ranked_parent_ids
        and not user.excludes(candidate.parent_id, rank_kind_for(candidate.role_of_children))
    )


def eligible_candidates(candidates: TaskCandidates, user: UserActivity) -> TaskCandidates:
    """The candidates this user may work on now, sorted by id for reproducible draws.

    The per-user rules (``may_review``, ``may_reply``, ``may_rank``) over candidates that
    ``core.work.task_candidates`` built from the trees' ready work and live leases: the same
    rules the task request applies as anti-joins (``work_queries.eligible``;
    ``tests/db/test_eligible_work_matches_core.py`` checks both agree). The pending cap is
    ``choose_task``'s.
    """
    return TaskCandidates(
        missing_prompts=candidates.missing_prompts,
        prompts_need_review=_sorted(
            (c for c in candidates.prompts_need_review if may_review(c, user)), "message_id"
        ),
        replies_need_review=_sorted(
            (c for c in candidates.replies_need_review if may_review(c, user)), "message_id"
        ),
        extendible_parents=_sorted(
            (p for p in candidates.extendible_parents if may_reply(p, user)), "message_id"
        ),
        incomplete_rankings=_sorted(
            (r for r in candidates.incomplete_rankings if may_rank(r, user)), "parent_id"
        ),
    )


def _sorted(items: Any, attr: str) -> tuple[Any, ...]:
    return tuple(sorted(items, key=lambda item: str(getattr(item, attr))))


# --- availability and the kind of task -----------------------------------------------------


def determine_task_availability(candidates: TaskCandidates) -> Availability:
    """OA ``_determine_task_availability_internal``: candidate counts per kind.

    Pass candidates already filtered for the user (``eligible_candidates``); then a kind with a
    count of zero is exactly a kind ``choose_task`` would refuse.
    """
    counts: dict[TaskKind, int] = dict.fromkeys(TaskKind, 0)
    counts[K.INITIAL_PROMPT] = max(0, candidates.missing_prompts)
    for review in (*candidates.prompts_need_review, *candidates.replies_need_review):
        counts[label_kind_for(review)] += 1
    for parent in candidates.extendible_parents:
        counts[reply_kind_for(parent.role)] += 1
    for ranking in candidates.incomplete_rankings:
        counts[rank_kind_for(ranking.role_of_children)] += 1
    del counts[K.RANDOM]
    return Availability(counts)


def choose_task_kind(
    requested: TaskKind, availability: Availability, rng: random.Random
) -> TaskKind:
    """The concrete kind to hand out, or ``NoTaskAvailable``.

    A specific request is served only if that kind is available. For ``random``, a category is
    drawn with OA's weights (``RANDOM_TASK_WEIGHTS``) among categories with work, then a kind
    within it in proportion to its candidates (which is what OA's uniform draw over that
    category's candidates amounts to).
    """
    if requested is not K.RANDOM:
        if not availability.is_available(requested):
            raise NoTaskAvailable(requested)
        return requested
    category = _draw_category(_category_counts(availability), rng)
    kinds = [k for k in KINDS_OF_CATEGORY[category] if availability.count(k) > 0]
    return rng.choices(kinds, weights=[availability.count(k) for k in kinds])[0]


def _category_counts(availability: Availability) -> dict[TaskCategory, int]:
    return {c: sum(availability.count(k) for k in KINDS_OF_CATEGORY[c]) for c in _CATEGORY_ORDER}


def _draw_category(counts: Mapping[TaskCategory, int], rng: random.Random) -> TaskCategory:
    present = [c for c in _CATEGORY_ORDER if counts.get(c, 0) > 0]
    if not present:
        raise NoTaskAvailable(K.RANDOM)
    return rng.choices(present, weights=[RANDOM_TASK_WEIGHTS[c] for c in present])[0]


# --- which node ----------------------------------------------------------------------------


def choose_review_target(
    candidates: Sequence[ReviewCandidate],
    rng: random.Random,
    config: TreeManagerConfig | None = None,
) -> ReviewCandidate:
    """A uniformly random message needing review (OA ``random.choice``); with
    ``selection_policy=active``, drawn in proportion to its ``weight`` (the expected
    information of its next review)."""
    if not candidates:
        raise NoTaskAvailable(K.RANDOM, "no message needs review")
    return _draw(candidates, rng, config)


class _Weighted(Protocol):
    @property
    def weight(self) -> float: ...


_W = TypeVar("_W", bound=_Weighted)


def _draw(items: Sequence[_W], rng: random.Random, config: TreeManagerConfig | None) -> _W:
    """OA's uniform draw, or the active policy's draw weighted by each item's ``weight``."""
    if config is None or config.selection_policy != SelectionPolicy.ACTIVE:
        return rng.choice(items)
    return rng.choices(items, weights=[item.weight for item in items])[0]


def choose_reply_parent(
    parents: Sequence[ExtendibleParent], config: TreeManagerConfig, rng: random.Random
) -> ExtendibleParent:
    """OA's reply-parent draw: with probability ``p_lonely_child_extension`` prefer a prompter
    message that has some, but fewer than ``lonely_children_count``, children (so siblings
    appear for ranking); otherwise any extendible parent, uniformly."""
    if not parents:
        raise NoTaskAvailable(K.RANDOM, "no extendible parent")
    if config.p_lonely_child_extension > 0 and config.lonely_children_count > 1:
        lonely = [
            p
            for p in parents
            if p.role is Role.PROMPTER
            and 0 < p.active_children_count < config.lonely_children_count
        ]
        if lonely and rng.random() < config.p_lonely_child_extension:
            return rng.choice(lonely)
    return rng.choice(parents)


def choose_ranking_target(
    candidates: Sequence[RankingCandidate],
    rng: random.Random,
    config: TreeManagerConfig | None = None,
) -> RankingCandidate:
    """A uniformly random parent with incomplete rankings (OA ``random.choice``); with
    ``selection_policy=active``, drawn in proportion to its ``weight`` (the expected
    information of its next ranking)."""
    if not candidates:
        raise NoTaskAvailable(K.RANDOM, "no incomplete ranking")
    return _draw(candidates, rng, config)


def choose_task(
    requested: TaskKind,
    candidates: TaskCandidates,
    user: UserActivity,
    config: TreeManagerConfig,
    rng: random.Random,
) -> ChosenTask:
    """What ``user`` should do next: the whole of OA ``next_task``'s decision.

    Refuses with ``TooManyPendingTasks`` at ``max_pending_tasks_per_user``, else with
    ``NoTaskAvailable`` when the requested kind has no eligible candidate. For ``random`` the
    category is drawn with OA's weights and the target uniformly among that category's
    candidates of both roles (reply parents with the lonely-child preference), so the concrete
    kind follows from the target, exactly as in OA.
    """
    if has_too_many_pending(user, config):
        raise TooManyPendingTasks(requested, "too many pending tasks")
    return choose_eligible_task(requested, eligible_candidates(candidates, user), config, rng)


def choose_eligible_task(
    requested: TaskKind,
    eligible: TaskCandidates,
    config: TreeManagerConfig,
    rng: random.Random,
    reviewer_informativeness: float | None = None,
) -> ChosenTask:
    """``choose_task`` over candidates already filtered for the user (the ready-work index
    applies the exclusion rules as anti-joins and hands in only what the user may do).

    ``reviewer_informativeness``: the user's estimated skill as a reviewer
    (``ReviewerSkill.informativeness``), read by first-review routing (``routed_reviews``);
    None: not routed."""
    if requested is K.RANDOM:
        availability = determine_task_availability(eligible)
        category = _draw_category(
            {c: sum(availability.count(k) for k in KINDS_OF_CATEGORY[c]) for c in _CATEGORY_ORDER},
            rng,
        )
        return _choose_in(category, eligible, config, rng, None, reviewer_informativeness)
    if requested is K.RANK_INITIAL_PROMPTS:  # OA never generates these
        raise NoTaskAvailable(requested)
    return _choose_in(
        CATEGORY_OF[requested], eligible, config, rng, requested, reviewer_informativeness
    )


def routed_reviews(
    candidates: Sequence[ReviewCandidate],
    config: TreeManagerConfig,
    reviewer_informativeness: float | None,
) -> Sequence[ReviewCandidate]:
    """The messages a reviewer may be handed under first-review routing.

    Under sequential review a message's first review often decides it alone (its author's
    record can carry the prior up to ``max_author_prior``), so a careless first "ok" is where
    spam slips through. A reviewer whose informativeness is below
    ``first_review_min_informativeness`` gets the messages that already have a review, when
    any is eligible; otherwise every candidate, so nobody is left without work and the task
    category drawn (OA's weights) does not change."""
    threshold = config.first_review_min_informativeness
    if threshold <= 0 or reviewer_informativeness is None:
        return candidates
    if reviewer_informativeness >= threshold:
        return candidates
    reviewed = [c for c in candidates if c.review_count > 0]
    return reviewed or candidates


def _choose_in(
    category: TaskCategory,
    eligible: TaskCandidates,
    config: TreeManagerConfig,
    rng: random.Random,
    role: TaskKind | None,
    reviewer_informativeness: float | None = None,
) -> ChosenTask:
    """Draw a target of ``category``; ``role`` (a concrete kind) narrows the candidates."""
    kind = role or K.RANDOM

    def matching(items: Sequence[Any]) -> list[Any]:
        return [item for item in items if role is None or kind_of(item) is role]

    def reviews(items: Sequence[ReviewCandidate]) -> Sequence[ReviewCandidate]:
        return routed_reviews(matching(items), config, reviewer_informativeness)

    target: ReviewCandidate | ExtendibleParent | RankingCandidate
    try:
        match category:
            case TaskCategory.PROMPT:
                if eligible.missing_prompts <= 0:
                    raise NoTaskAvailable(kind)
                return ChosenTask(K.INITIAL_PROMPT)
            case TaskCategory.LABEL_PROMPT:
                target = choose_review_target(reviews(eligible.prompts_need_review), rng, config)
            case TaskCategory.LABEL_REPLY:
                target = choose_review_target(reviews(eligible.replies_need_review), rng, config)
            case TaskCategory.REPLY:
                target = choose_reply_parent(matching(eligible.extendible_parents), config, rng)
            case TaskCategory.RANKING:
                target = choose_ranking_target(matching(eligible.incomplete_rankings), rng, config)
    except NoTaskAvailable:
        raise NoTaskAvailable(kind) from None
    return ChosenTask(kind_of(target), target)


# --- task details and tree creation --------------------------------------------------------


def label_task_mode(
    role: Role,
    depth: int,
    config: TreeManagerConfig,
    rng: random.Random,
    *,
    explicit_request: bool = False,
) -> LabelTaskSpec:
    """Full or simple (mandatory-only) labelling for one message (OA ``next_task``).

    A prompt (depth 0) is labelled fully with probability ``p_full_labeling_review_prompt``;
    its simple form asks the mandatory labels plus ``lang_mismatch``. A reply is labelled
    fully with probability ``p_full_labeling_review_reply_assistant`` / ``..._prompter``, but
    always fully when the user explicitly asked for that label kind (OA draws only for
    ``random`` requests); its simple form adds ``lang_mismatch`` and ``quality``.
    """
    if depth == 0:
        labels, mandatory = config.labels_initial_prompt, config.mandatory_labels_initial_prompt
        p_full = config.p_full_labeling_review_prompt
        extra: tuple[str, ...] = ("lang_mismatch",)
        simple = rng.random() > p_full
    else:
        if role is Role.ASSISTANT:
            labels = config.labels_assistant_reply
            mandatory = config.mandatory_labels_assistant_reply
            p_full = config.p_full_labeling_review_reply_assistant
        else:
            labels = config.labels_prompter_reply
            mandatory = config.mandatory_labels_prompter_reply
            p_full = config.p_full_labeling_review_reply_prompter
        extra = ("lang_mismatch", "quality")
        simple = not explicit_request and rng.random() > p_full
    if not simple:
        return LabelTaskSpec("full", tuple(labels), tuple(mandatory))
    valid = tuple(mandatory) + tuple(label for label in extra if label not in mandatory)
    return LabelTaskSpec("simple", valid, tuple(mandatory))


def goal_tree_size_for_new_tree(config: TreeManagerConfig, rng: random.Random) -> int:
    """``goal_tree_size``, or uniform in [``min_goal_tree_size``, ``goal_tree_size``] when
    ``random_goal_tree_size`` is on (OA ``_insert_default_state``)."""
    if config.random_goal_tree_size and config.min_goal_tree_size < config.goal_tree_size:
        return rng.randint(config.min_goal_tree_size, config.goal_tree_size)
    return config.goal_tree_size


def backlog_trees_to_activate(
    rng: random.Random, config: TreeManagerConfig, active_rankings_in_lang: int
) -> int:
    """How many backlog trees to activate when an active tree turns terminal (OA
    ``_enter_state``): one with probability ``p_activate_backlog_tree``, and one more when the
    language has fewer than ``min_active_rankings_per_lang`` incomplete rankings."""
    count = int(rng.random() < config.p_activate_backlog_tree)
    if config.min_active_rankings_per_lang > 0 and (
        active_rankings_in_lang < config.min_active_rankings_per_lang
    ):
        count += 1
    return count


def should_activate_backlog(
    rng: random.Random, config: TreeManagerConfig, active_rankings_in_lang: int
) -> bool:
    """True when at least one backlog tree should be activated (see
    ``backlog_trees_to_activate``)."""
    return backlog_trees_to_activate(rng, config, active_rankings_in_lang) > 0


def choose_lottery_winner(
    candidates: Sequence[LotteryCandidate], rng: random.Random
) -> LotteryCandidate | None:
    """OA ``_prompt_lottery``: draw an author weighted by monthly ``reply_ranked_1`` + 1 (so
    every author keeps a chance), then one of that author's waiting prompts uniformly."""
    if not candidates:
        return None
    by_author: dict[Any, list[LotteryCandidate]] = {}
    for candidate in sorted(candidates, key=lambda c: (str(c.author_id), str(c.tree_id))):
        by_author.setdefault(candidate.author_id, []).append(candidate)
    authors = list(by_author)
    weights = [by_author[a][0].author_reply_ranked_1 + 1 for a in authors]
    author = rng.choices(authors, weights=weights)[0]
    return rng.choice(by_author[author])
