"""Moving trees forward: review consensus, lifecycle transitions, scoring, lottery, moderation.

``advance_tree`` is the one door for automatic state changes. It locks the tree row, so two
runs on the same tree (two workers, or a worker and a request) serialise, and it is
idempotent: running it again on an unchanged tree changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import uuid
from collections import defaultdict

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backend import events
from backend.compiled_query import SENTINEL_IDS, CompiledQuery
from backend.stats.models import TimeFrame, UserStats
from backend.trees import journal, ranking_fit, ready_work
from backend.trees.core import consensus, lifecycle, policy, sequential, shape
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.consensus import ModerationAction, ReviewOutcome
from backend.trees.core.lifecycle import TreeState, TreeSummary
from backend.trees.core.reliability import is_acceptable_vote
from backend.trees.errors import TreeNotFound
from backend.trees.growth_config import active_config
from backend.trees.models import (
    Message,
    MessageReaction,
    MessageTree,
    PendingAdvance,
    TextLabels,
)
from backend.trees.services.reliability import author_priors, reviewer_skills

logger = logging.getLogger("grove.trees")
MAX_TRANSITIONS_PER_RUN = 8


def enqueue_advance(tree_id: uuid.UUID | None) -> None:
    """Owe the tree a run of ``advance_tree``: recorded in the current transaction (a
    ``PendingAdvance`` row), then sent as a Celery job once it commits.

    The send is best-effort (``workers.sending.send_job``): when the broker is down the answer
    still commits and returns, and the due sweep (``advance_due_trees``) runs the advance."""
    if tree_id is None:
        return
    from workers.jobs import advance_tree_job
    from workers.sending import send_job

    PendingAdvance.objects.create(tree_id=tree_id)
    transaction.on_commit(lambda: send_job(advance_tree_job, str(tree_id)))


def set_state(
    tree: MessageTree,
    new: TreeState,
    *,
    reason: str,
    actor: str = "",
    config: TreeManagerConfig | None = None,
    tree_shape: shape.TreeShape | None = None,
) -> None:
    """The one place a tree changes state: checks the transition and journals it.

    A caller inside a decision passes the ``config`` it decided with and the ``tree_shape``
    it read in this transaction (messages and rankings unchanged since): the ready work is
    then recomputed from them rather than read again (four statements fewer)."""
    old = TreeState(tree.state)
    lifecycle.check_transition(old, new)
    tree.state = new.value
    tree.active = lifecycle.is_active(new)
    fields = ["state", "active", "updated_at"]
    if new is TreeState.GROWING and tree.won_prompt_lottery_date is None:
        tree.won_prompt_lottery_date = timezone.now()
        fields.append("won_prompt_lottery_date")
    tree.save(update_fields=fields)
    config = config or active_config()
    known = None if tree_shape is None else {tree.id: dataclasses.replace(tree_shape, state=new)}
    ready_work.refresh_trees([tree.id], config, shapes=known)
    ready_work.refresh_lang(tree.lang, config)
    journal.record(
        "tree_state_changed",
        payload={"from": old.value, "to": new.value, "reason": reason},
        message_tree_id=tree.id,
        actor=actor,
    )
    events.publish(
        "tree_state_changed",
        {"message_tree_id": str(tree.id), "from": old.value, "to": new.value, "reason": reason},
        lang=tree.lang,
    )


# A tree row locked against other writers of it (FOR NO KEY UPDATE: reviews' share locks and
# new messages' foreign keys still pass), compiled once.
LOCKED_TREE = CompiledQuery(
    lambda tree_id: MessageTree.objects.select_for_update(no_key=True).filter(id=tree_id)[:1],
    sentinels={"tree_id": SENTINEL_IDS[0]},
)


@transaction.atomic
def advance_tree(*, tree_id: uuid.UUID, rng: random.Random | None = None) -> list[str]:
    """Apply every decision that is due on one tree; returns the states it entered."""
    with ready_work.index_refreshed_last():
        return _advance(tree_id, rng)


def _advance(tree_id: uuid.UUID, rng: random.Random | None) -> list[str]:
    found = LOCKED_TREE.fetch({"tree_id": tree_id})
    tree = found[0] if found else None
    if tree is None:
        raise TreeNotFound(f"tree {tree_id} not found")
    # Settles every debt committed before this point: under the tree's lock, each later read
    # sees those changes; a change committed after this delete keeps its row (and its job).
    PendingAdvance.objects.filter(tree_id=tree.id).delete()
    config = active_config()
    rng = rng or random.Random()
    was_active = lifecycle.is_active(TreeState(tree.state))
    _settle_reviews(tree, config)
    entered = _auto_moderate(tree, config)
    _settle_rankings(tree, config)
    tree_shape = None  # the rows the last decision read, while nothing changed them
    for _ in range(MAX_TRANSITIONS_PER_RUN):
        state = TreeState(tree.state)
        if state is TreeState.READY_FOR_SCORING:
            tree_shape, new = None, _score(tree, config)
        else:
            if tree_shape is None:
                tree_shape = ready_work.load_shapes([tree.id], config)[tree.id]
            new = lifecycle.next_state(shape.summarize(tree_shape, config), config)
        if new is None or new is state:
            break
        set_state(tree, new, reason="advance", config=config, tree_shape=tree_shape)
        if tree_shape is not None:  # a state change changes no message or ranking
            tree_shape = dataclasses.replace(tree_shape, state=new)
        entered.append(new.value)
    if not entered:  # set_state refreshed the ready work after each transition
        known = None if tree_shape is None else {tree.id: tree_shape}
        ready_work.refresh_trees([tree.id], config, shapes=known)
    if was_active and lifecycle.is_terminal(TreeState(tree.state)):
        # A slot freed up (OA ``_enter_state``): maybe wake backlog trees, refill the lottery.
        _activate_backlog(tree.lang, config, rng)
    if TreeState.PROMPT_LOTTERY_WAITING.value in entered or (
        was_active and lifecycle.is_terminal(TreeState(tree.state))
    ):
        # A prompt joined the lottery or a growing slot freed up: draw now, in this
        # transaction, so the ready work never waits for a request or a periodic job.
        run_prompt_lottery(lang=tree.lang, rng=rng, config=config)
    return entered


def _activate_backlog(lang: str, config: TreeManagerConfig, rng: random.Random) -> int:
    """As many backlog trees as ``p_activate_backlog_tree`` / ``min_active_rankings_per_lang``
    ask for when a tree of ``lang`` finishes (OA ``_enter_state``)."""
    active_rankings = MessageTree.objects.filter(lang=lang, state=TreeState.RANKING).count()
    wanted = policy.backlog_trees_to_activate(rng, config, active_rankings)
    return _wake_backlog(lang, wanted, config, reason="backlog_activation")


def _wake_backlog(lang: str, count: int, config: TreeManagerConfig, *, reason: str) -> int:
    """Move up to ``count`` backlog_ranking trees of ``lang`` (oldest first) to ranking, or
    abort those with nothing to rank; returns how many left the backlog."""
    if count <= 0:
        return 0
    backlog = list(
        MessageTree.objects.select_for_update(skip_locked=True, no_key=True)
        .filter(lang=lang, state=TreeState.BACKLOG_RANKING)
        .order_by("created_at")[:count]
    )
    for tree in backlog:
        summary = summarize(tree, config)
        new = lifecycle.state_after_backlog_activation(bool(summary.rankings_per_parent))
        set_state(tree, new, reason=reason)
    return len(backlog)


@transaction.atomic
def top_up_rankings(*, lang: str) -> int:
    """Activate backlog trees of ``lang`` while it has fewer than ``min_active_rankings_per_lang``
    trees in ranking (the deterministic half of OA's backlog rule; the random half,
    ``p_activate_backlog_tree``, applies when a tree finishes). Returns trees activated."""
    config = active_config()
    if config.min_active_rankings_per_lang <= 0:
        return 0
    active = MessageTree.objects.filter(lang=lang, state=TreeState.RANKING).count()
    missing = config.min_active_rankings_per_lang - active
    return _wake_backlog(lang, missing, config, reason="backlog_top_up")


# The advance job's reads of a tree's messages, compiled once (``backend.compiled_query``).
_UNDECIDED = CompiledQuery(
    lambda tree_id: Message.objects.filter(
        message_tree_id=tree_id, review_result__isnull=True, deleted=False
    ),
    sentinels={"tree_id": SENTINEL_IDS[0]},
)
_FLAGGED = CompiledQuery(
    lambda tree_id: (
        Message.objects.filter(message_tree_id=tree_id, deleted=False)
        .exclude(emojis={})
        .values_list("id", "depth", "emojis")
    ),
    sentinels={"tree_id": SENTINEL_IDS[0]},
)


def _settle_reviews(tree: MessageTree, config: TreeManagerConfig) -> None:
    """Decide every message of the tree that holds the reviews its policy needs: OA's fixed
    count and acceptance score, or the sequential posterior (which may ask one more review
    instead). Each decision journals what it read."""
    pending = _UNDECIDED.fetch({"tree_id": tree.id})
    due = [
        m
        for m in pending
        if m.review_count >= sequential.reviews_needed(m.depth == 0, m.reviews_asked, config)
    ]
    if not due:
        return
    reviews = defaultdict(list)
    for message_id, user_id, labels in TextLabels.objects.filter(
        message__in=due, task__isnull=False
    ).values_list("message_id", "user_id", "labels"):
        reviews[message_id].append((user_id, labels))
    is_sequential = config.review_policy == sequential.ReviewPolicy.SEQUENTIAL
    skills = {}
    if is_sequential and config.reviewer_reliability:
        skills = reviewer_skills({user for found in reviews.values() for user, _ in found}, config)
    priors = {}
    if is_sequential and config.author_reliability:
        priors = author_priors({m.user_id for m in due})
    for message in due:
        labels = [found for _user, found in reviews[message.id]]
        explanation = {
            "acceptance_score": consensus.acceptance_score(labels) if labels else None,
            "reviews": len(labels),
        }
        if is_sequential:
            decision = sequential.review_decision(
                [
                    sequential.WeightedVote(
                        user,
                        is_acceptable_vote(found),
                        sequential.skill_of(user, skills, config),
                    )
                    for user, found in reviews[message.id]
                ],
                config,
                prior=priors.get(message.user_id),
            )
            explanation |= decision.explain()
            if decision.outcome is None:
                _ask_more_reviews(
                    tree, message, decision.reviews_required, decision.posterior, explanation
                )
                continue
            outcome = decision.outcome
        else:
            outcome = consensus.review_outcome(
                labels,
                consensus.required_reviews(message.depth == 0, config),
                consensus.acceptance_threshold(message.depth == 0, config),
            )
            if outcome is None:
                continue
            explanation["policy"] = sequential.ReviewPolicy.FIXED.value
        _decide_review(tree, message, outcome, explanation)


def _decide_review(
    tree: MessageTree, message: Message, outcome: ReviewOutcome, explanation: dict
) -> None:
    accepted = outcome is ReviewOutcome.ACCEPTED
    Message.objects.filter(id=message.id).update(review_result=accepted)
    if not accepted and message.parent_id is not None:
        Message.objects.filter(id=message.parent_id, children_count__gt=0).update(
            children_count=F("children_count") - 1
        )
    journal.record(
        "message_accepted" if accepted else "message_rejected",
        payload=explanation,
        message_tree_id=tree.id,
        message_id=message.id,
    )
    events.publish_to_author("message_accepted" if accepted else "message_rejected", message)


def _ask_more_reviews(
    tree: MessageTree, message: Message, count: int, posterior: float, explanation: dict
) -> None:
    """The sequential policy is not sure yet: the message needs ``count`` reviews in all
    (the ready work offers the new slot when the advance refreshes it, weighted by what
    ``posterior`` leaves to learn: ``shape.review_weight``)."""
    Message.objects.filter(id=message.id).update(
        reviews_asked=count, review_posterior=round(posterior, 4)
    )
    journal.record(
        "review_extended", payload=explanation, message_tree_id=tree.id, message_id=message.id
    )


def _settle_rankings(tree: MessageTree, config: TreeManagerConfig) -> None:
    """Adaptive rankings: a parent holding the rankings it was asked for whose informative
    rankers are too few or disagree (``sequential.ranking_decision``) is asked for one more."""
    if config.ranking_policy != sequential.RankingPolicy.ADAPTIVE:
        return
    if tree.state != TreeState.RANKING:
        return
    tree_shape = ready_work.load_shapes([tree.id], config)[tree.id]
    full = [
        parent_id
        for parent_id in shape.rankable_parents(tree_shape, config)
        if shape.ranking_room(parent_id, tree_shape, config) == 0
    ]
    for parent_id, found in _rankings_of(full).items():
        rankings = [ranking for _user, ranking in found]
        weights = _ranker_weights([user for user, _ranking in found], config)
        decision = sequential.ranking_decision(rankings, config, weights)
        if decision.done:
            continue
        Message.objects.filter(id=parent_id).update(
            rankings_asked=decision.rankings_required,
            ranking_agreement=round(decision.agreement, 4),
        )
        journal.record(
            "ranking_extended",
            payload={**decision.explain(), "rankings": len(rankings), "weights": weights},
            message_tree_id=tree.id,
            message_id=parent_id,
        )


def _rankings_of(parent_ids) -> dict[uuid.UUID, list[tuple[uuid.UUID, list[uuid.UUID]]]]:
    """The rankings of each parent: (ranker, ranked message ids best first)."""
    rankings = defaultdict(list)
    for parent_id, user_id, payload in (
        MessageReaction.objects.filter(
            message_id__in=list(parent_ids), payload_type="RankingReactionPayload"
        )
        .order_by("created_at", "id")
        .values_list("message_id", "user_id", "payload")
    ):
        rankings[parent_id].append((user_id, [uuid.UUID(i) for i in payload["ranked_message_ids"]]))
    return rankings


def _ranker_weights(users: list[uuid.UUID], config: TreeManagerConfig) -> list[float] | None:
    """Each ranker's informativeness (their review skill) under the adaptive ranking policy
    with ``reviewer_reliability``; None (every ranking counts once, OA) otherwise."""
    adaptive = config.ranking_policy == sequential.RankingPolicy.ADAPTIVE
    if not adaptive or not config.reviewer_reliability:
        return None
    skills = reviewer_skills(set(users), config)
    return [round(sequential.skill_of(u, skills, config).informativeness, 4) for u in users]


def _auto_moderate(tree: MessageTree, config: TreeManagerConfig) -> list[str]:
    """OA auto-moderation: red flags delete replies / abort the tree; reply skips halt it.

    Returns the states the tree entered."""
    entered: list[str] = []
    if not config.auto_mod_enabled or lifecycle.is_finished(TreeState(tree.state)):
        return entered
    for message_id, depth, emojis in _FLAGGED.rows({"tree_id": tree.id}):
        actions = consensus.moderation_actions(
            is_prompt=depth == 0, emoji_counts=emojis, config=config
        )
        for action in actions:
            if lifecycle.is_finished(TreeState(tree.state)):
                return entered
            if action is ModerationAction.DELETE:
                delete_subtree(message_id, reason="auto_mod_red_flags")
                continue
            if action is ModerationAction.ABORT_TREE:
                new, reason = TreeState.ABORTED_LOW_GRADE, "auto_mod_red_flags"
            else:
                new, reason = TreeState.HALTED_BY_MODERATOR, "auto_mod_max_skip_reply"
            if new in lifecycle.ALLOWED_TRANSITIONS[TreeState(tree.state)]:
                set_state(tree, new, reason=reason)
                entered.append(new.value)
    return entered


def delete_subtree(message_id: uuid.UUID, *, reason: str, actor: str = "") -> int:
    """Soft-delete a message and everything below it; frees the parent's child slot."""
    ids, frontier = [], [message_id]
    while frontier:
        ids.extend(frontier)
        frontier = list(
            Message.objects.filter(parent_id__in=frontier, deleted=False).values_list(
                "id", flat=True
            )
        )
    root = Message.objects.get(id=message_id)
    changed = Message.objects.filter(id__in=ids, deleted=False).update(deleted=True)
    if root.parent_id is not None and not root.deleted and root.review_result is not False:
        Message.objects.filter(id=root.parent_id, children_count__gt=0).update(
            children_count=F("children_count") - 1
        )
    journal.record(
        "message_deleted",
        payload={"reason": reason, "count": changed},
        message_tree_id=root.message_tree_id,
        message_id=message_id,
        actor=actor,
    )
    return changed


def summarize(tree: MessageTree, config: TreeManagerConfig) -> TreeSummary:
    """The tree as the pure lifecycle sees it (``core.shape.summarize`` over its rows)."""
    return shape.summarize(ready_work.load_shapes([tree.id], config)[tree.id], config)


def _score(tree: MessageTree, config: TreeManagerConfig) -> TreeState:
    """Write each sibling's consensus rank (ranked pairs); export, or scoring_failed."""
    try:
        with transaction.atomic():
            parents = MessageReaction.objects.filter(
                message__message_tree=tree, payload_type="RankingReactionPayload"
            ).values_list("message_id", flat=True)
            for parent_id, found in _rankings_of(set(parents)).items():
                parent_rankings = [ranking for _user, ranking in found]
                weights = _ranker_weights([user for user, _ranking in found], config)
                siblings = Message.objects.filter(parent_id=parent_id).values_list("id", flat=True)
                ranks = consensus.message_ranks(parent_rankings, list(siblings), weights)
                for message_id, rank in ranks.items():
                    Message.objects.filter(id=message_id).update(rank=rank)
                fitted = _fit_order(parent_id, parent_rankings, weights)
                journal.record(
                    "replies_scored",
                    payload={
                        "policy": config.ranking_policy,
                        "rankings": len(parent_rankings),
                        "kendalls_w": round(sequential.kendalls_w(parent_rankings), 4),
                        "weights": weights,
                        "ranks": {str(m): r for m, r in ranks.items()},
                        "plackett_luce": fitted.explain() if fitted else None,
                    },
                    message_tree_id=tree.id,
                    message_id=parent_id,
                )
                for ranked in Message.objects.filter(parent_id=parent_id, rank__isnull=False):
                    events.publish_to_author("message_ranked", ranked, rank=ranked.rank)
    except Exception as exc:  # a broken ranking must not stop the tree engine
        logger.exception("event=scoring_failed tree=%s", tree.id)
        journal.record("scoring_failed", payload={"error": str(exc)[:500]}, message_tree_id=tree.id)
        return lifecycle.state_after_scoring(False)
    return lifecycle.state_after_scoring(True)


def _fit_order(
    parent_id: uuid.UUID, rankings: list[list[uuid.UUID]], weights: list[float] | None
) -> ranking_fit.FittedOrder | None:
    """The Plackett-Luce fit beside ranked pairs: advisory, so a fit that fails (no
    convergence) is logged and left out, never a reason for scoring_failed."""
    try:
        return ranking_fit.fit_plackett_luce(
            rankings,
            weights=weights,
            min_weight=sequential.MIN_RANKER_WEIGHT if weights else 0.0,
            seed=parent_id.int % 2**32,
        )
    except Exception:
        logger.exception("event=ranking_fit_failed parent=%s", parent_id)
        return None


@transaction.atomic
def retry_scoring(*, tree_id: uuid.UUID, actor: str = "") -> list[str]:
    tree = MessageTree.objects.select_for_update(no_key=True).get(id=tree_id)
    if tree.state != TreeState.SCORING_FAILED:
        return []
    set_state(tree, TreeState.READY_FOR_SCORING, reason="retry_scoring", actor=actor)
    return [TreeState.READY_FOR_SCORING.value, *advance_tree(tree_id=tree_id)]


# No savepoint inside an advance (two round trips): a failure fails the advance as a whole.
@transaction.atomic(savepoint=False)
def run_prompt_lottery(
    *, lang: str, rng: random.Random | None = None, config: TreeManagerConfig | None = None
) -> int:
    """Activate waiting prompts of ``lang`` into growing: at most the free active-tree slots
    and ``policy.LOTTERY_MAX_ACTIVATIONS_PER_DRAW`` (callers that must fill every slot call
    again, each call its own transaction). Returns how many were activated.

    As OA: prompts of disabled or deleted authors are halted first, never drawn
    (``halt_prompts_of_disabled_users``), and authors are weighted by their monthly
    ``reply_ranked_1`` + 1 (``_prompt_lottery``). ``config``: the caller's, when it has one."""
    config = config or active_config()
    rng = rng or random.Random()
    growing = MessageTree.objects.filter(lang=lang, state=TreeState.GROWING).count()
    free = policy.trees_to_activate(config, growing=growing)
    if free <= 0:
        return 0
    waiting = list(
        MessageTree.objects.select_for_update(skip_locked=True, no_key=True)
        .filter(lang=lang, state=TreeState.PROMPT_LOTTERY_WAITING)
        .order_by("created_at")
    )
    prompts = {
        row["id"]: row
        for row in Message.objects.filter(id__in=[t.id for t in waiting]).values(
            "id", "user_id", "deleted", "review_result", "user__enabled", "user__deleted"
        )
    }
    for tree in waiting:
        prompt = prompts.get(tree.id)
        if prompt is not None and (not prompt["user__enabled"] or prompt["user__deleted"]):
            set_state(tree, TreeState.HALTED_BY_MODERATOR, reason="author_disabled")
    drawable = [
        t
        for t in waiting
        if t.state == TreeState.PROMPT_LOTTERY_WAITING
        and t.id in prompts
        and not prompts[t.id]["deleted"]
        and prompts[t.id]["review_result"]
    ]
    ranked_1 = dict(
        UserStats.objects.filter(
            time_frame=TimeFrame.MONTH, user_id__in={prompts[t.id]["user_id"] for t in drawable}
        ).values_list("user_id", "reply_ranked_1")
    )
    candidates = [
        policy.LotteryCandidate(
            tree_id=t.id,
            author_id=prompts[t.id]["user_id"],
            author_reply_ranked_1=ranked_1.get(prompts[t.id]["user_id"], 0),
        )
        for t in drawable
    ]
    by_id = {t.id: t for t in waiting}
    activated = 0
    while activated < free and candidates:
        winner = policy.choose_lottery_winner(candidates, rng)
        candidates = [c for c in candidates if c.tree_id != winner.tree_id]
        set_state(by_id[winner.tree_id], TreeState.GROWING, reason="prompt_lottery", config=config)
        activated += 1
    return activated


@transaction.atomic
def halt_tree(*, tree_id: uuid.UUID, actor: str, reason: str = "moderator") -> MessageTree:
    found = LOCKED_TREE.fetch({"tree_id": tree_id})
    tree = found[0] if found else None
    if tree is None:
        raise TreeNotFound(f"tree {tree_id} not found")
    set_state(tree, TreeState.HALTED_BY_MODERATOR, reason=reason, actor=actor)
    return tree


@transaction.atomic
def resume_tree(*, tree_id: uuid.UUID, actor: str) -> MessageTree:
    found = LOCKED_TREE.fetch({"tree_id": tree_id})
    tree = found[0] if found else None
    if tree is None:
        raise TreeNotFound(f"tree {tree_id} not found")
    new = lifecycle.state_after_unhalt(tree.won_prompt_lottery_date is not None)
    set_state(tree, new, reason="resumed", actor=actor)
    return tree
