"""Read queries of the tree engine: what could be handed out, and what a user has done.

Every function runs a fixed number of queries whatever the size of the database: candidate
lists are capped (``*_LIMIT``), and per-user look-ups are restricted to the candidate ids.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, F, FloatField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from backend.trees.core import policy
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.lifecycle import TreeState
from backend.trees.core.policy import (
    ExtendibleParent,
    RankingCandidate,
    ReviewCandidate,
    Role,
    TaskCandidates,
    UserActivity,
)
from backend.trees.models import Message, MessageReaction, MessageTree, Task, TextLabels

REVIEW_CANDIDATE_LIMIT = 200
GROWING_TREE_LIMIT = 200
RANKING_TREE_LIMIT = 100
REPLY_KINDS = (policy.TaskKind.ASSISTANT_REPLY.value, policy.TaskKind.PROMPTER_REPLY.value)
RANK_KINDS = (
    policy.TaskKind.RANK_ASSISTANT_REPLIES.value,
    policy.TaskKind.RANK_PROMPTER_REPLIES.value,
)
# ``skip_reason`` of tasks closed by ``maintenance.expire_tasks``: not a skip by the user.
EXPIRED_SKIP_REASON = "expired"


@dataclass(frozen=True)
class TreeStateCounts:
    growing: int = 0
    initial_prompt_review: int = 0
    prompt_lottery_waiting: int = 0
    ranking: int = 0


def tree_state_counts(lang: str) -> TreeStateCounts:
    """Trees per engine-relevant state (finished trees are not counted: index-only work)."""
    relevant = [f.name for f in dataclasses.fields(TreeStateCounts)]
    rows = dict(
        MessageTree.objects.filter(lang=lang, state__in=relevant)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return TreeStateCounts(
        growing=rows.get(TreeState.GROWING, 0),
        initial_prompt_review=rows.get(TreeState.INITIAL_PROMPT_REVIEW, 0),
        prompt_lottery_waiting=rows.get(TreeState.PROMPT_LOTTERY_WAITING, 0),
        ranking=rows.get(TreeState.RANKING, 0),
    )


def open_tasks(now: datetime) -> Q:
    """Tasks still reserving their node: neither done nor skipped nor expired."""
    return Q(done=False, skipped=False, expiry_date__gt=now)


def task_candidates(
    *, lang: str, config: TreeManagerConfig, now: datetime, counts: TreeStateCounts | None = None
) -> TaskCandidates:
    """All work that could be handed out in ``lang`` now, before per-user exclusions."""
    counts = counts or tree_state_counts(lang)
    missing = policy.count_missing_prompts(
        config,
        lang=lang,
        growing=counts.growing,
        initial_prompt_review=counts.initial_prompt_review,
        prompt_lottery_waiting=counts.prompt_lottery_waiting,
    )
    return TaskCandidates(
        missing_prompts=missing,
        prompts_need_review=_review_candidates(lang, TreeState.INITIAL_PROMPT_REVIEW, config, now),
        replies_need_review=_review_candidates(lang, TreeState.GROWING, config, now),
        extendible_parents=_extendible_parents(lang, config, now),
        incomplete_rankings=_incomplete_rankings(lang, config, now),
    )


def _open_task_count(now: datetime) -> Count:
    """Per message: open tasks reserving it (the slots a new task could not take)."""
    return Count(
        "tasks",
        filter=Q(tasks__done=False, tasks__skipped=False, tasks__expiry_date__gt=now),
    )


def _review_candidates(
    lang: str, state: TreeState, config: TreeManagerConfig, now: datetime
) -> tuple[ReviewCandidate, ...]:
    """Messages still needing reviews that open label tasks have not all reserved."""
    is_prompt = state is TreeState.INITIAL_PROMPT_REVIEW
    required = config.num_reviews_initial_prompt if is_prompt else config.num_reviews_reply
    depth = Q(depth=0) if is_prompt else Q(depth__gt=0)
    rows = (
        Message.objects.filter(
            depth,
            lang=lang,
            review_result__isnull=True,
            deleted=False,
            review_count__lt=required,
            message_tree__state=state,
        )
        .annotate(reserved=_open_task_count(now))
        .filter(reserved__lt=required - F("review_count"))
        .order_by("created_at")
        .values_list(
            "id", "message_tree_id", "role", "depth", "user_id", "created_at", "review_count"
        )
    )[:REVIEW_CANDIDATE_LIMIT]
    return tuple(
        ReviewCandidate(
            message_id=mid,
            tree_id=tid,
            role=Role(role),
            depth=depth_,
            author_id=uid,
            created_at=created,
            review_count=reviews,
        )
        for mid, tid, role, depth_, uid, created, reviews in rows
    )


def _extendible_parents(
    lang: str, config: TreeManagerConfig, now: datetime
) -> tuple[ExtendibleParent, ...]:
    trees = {
        row["id"]: row
        for row in MessageTree.objects.filter(state=TreeState.GROWING, lang=lang)
        .order_by("created_at")
        .values("id", "goal_tree_size", "max_depth", "max_children_count")[:GROWING_TREE_LIMIT]
    }
    if not trees:
        return ()
    # Live messages: accepted or still in review (rejected ones free their slot, as in OA).
    rows = list(
        Message.objects.filter(message_tree_id__in=trees, deleted=False)
        .exclude(review_result=False)
        .values_list(
            "id", "message_tree_id", "parent_id", "depth", "role", "user_id", "review_result"
        )
    )
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    tree_size: dict[uuid.UUID, int] = defaultdict(int)
    for _mid, tid, parent_id, _d, _r, uid, _rr in rows:
        tree_size[tid] += 1
        if parent_id is not None:
            children[parent_id].append(uid)
    accepted = [row for row in rows if row[6] is True]
    accepted_ids = [row[0] for row in accepted]
    reserved = set(
        Task.objects.filter(
            open_tasks(now), parent_message_id__in=accepted_ids, payload_type__in=REPLY_KINDS
        ).values_list("parent_message_id", flat=True)
    )
    quality = (
        mean_quality_by_message(accepted_ids)
        if config.min_reply_quality_for_extension is not None
        else {}
    )
    return tuple(
        ExtendibleParent(
            message_id=mid,
            tree_id=tid,
            depth=depth,
            role=Role(role),
            author_id=uid,
            active_children_count=len(children[mid]),
            tree_size=tree_size[tid],
            goal_tree_size=trees[tid]["goal_tree_size"],
            child_author_ids=frozenset(children[mid]),
            has_recent_reply_task=mid in reserved,
            mean_quality=quality.get(mid),
            max_depth=trees[tid]["max_depth"],
            max_children_count=trees[tid]["max_children_count"],
        )
        for mid, tid, _parent, depth, role, uid, _rr in accepted
    )


def _incomplete_rankings(
    lang: str, config: TreeManagerConfig, now: datetime
) -> tuple[RankingCandidate, ...]:
    tree_ids = (
        MessageTree.objects.filter(state=TreeState.RANKING, lang=lang)
        .order_by("created_at")
        .values("id")[:RANKING_TREE_LIMIT]
    )
    rows = (
        Message.objects.filter(
            message_tree_id__in=tree_ids, review_result=True, deleted=False, depth__gt=0
        )
        .order_by("parent_id", "id")
        .values_list("id", "parent_id", "message_tree_id", "role", "user_id", "ranking_count")
    )
    by_parent: dict[uuid.UUID, list[tuple]] = defaultdict(list)
    for row in rows:
        by_parent[row[1]].append(row)
    reserved = dict(
        Task.objects.filter(
            open_tasks(now),
            parent_message_id__in=list(by_parent),
            payload_type__in=RANK_KINDS,
        )
        .values("parent_message_id")
        .annotate(n=Count("id"))
        .values_list("parent_message_id", "n")
    )
    candidates = []
    for parent_id, kids in by_parent.items():
        if len(kids) < 2:
            continue
        candidates.append(
            RankingCandidate(
                parent_id=parent_id,
                tree_id=kids[0][2],
                role_of_children=Role(kids[0][3]),
                child_ids=tuple(k[0] for k in kids),
                child_author_ids=frozenset(k[4] for k in kids),
                # open ranking tasks will add their rankings: count them as done
                min_child_ranking_count=min(k[5] for k in kids) + reserved.get(parent_id, 0),
            )
        )
    return tuple(candidates)


def mean_quality_by_message(message_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, float]:
    """Mean ``quality`` label per message over its labels that set it."""
    return dict(
        TextLabels.objects.filter(message_id__in=list(message_ids), labels__has_key="quality")
        .values("message_id")
        .annotate(q=Avg(Cast(KeyTextTransform("quality", "labels"), FloatField())))
        .values_list("message_id", "q")
    )


def user_activity(
    *, user_id: uuid.UUID, candidates: TaskCandidates, config: TreeManagerConfig, now: datetime
) -> UserActivity:
    """What ``user_id`` did that excludes candidates; look-ups restricted to candidate ids."""
    review_ids = [
        c.message_id for c in (*candidates.prompts_need_review, *candidates.replies_need_review)
    ]
    parent_ids = [p.message_id for p in candidates.extendible_parents]
    ranking_ids = [r.parent_id for r in candidates.incomplete_rankings]
    node_ids = [*review_ids, *parent_ids, *ranking_ids]
    pending = Task.objects.filter(open_tasks(now), user_id=user_id).count()
    since = now - timedelta(seconds=config.recent_tasks_span_sec)
    recent, skipped = set(), set()
    for node_id, was_skipped, reason in Task.objects.filter(
        Q(created_at__gte=since) | (Q(skipped=True) & ~Q(skip_reason=EXPIRED_SKIP_REASON)),
        user_id=user_id,
        parent_message_id__in=node_ids,
    ).values_list("parent_message_id", "skipped", "skip_reason"):
        user_skipped = was_skipped and reason != EXPIRED_SKIP_REASON
        (skipped if user_skipped else recent).add(node_id)
    labelled = TextLabels.objects.filter(user_id=user_id, message_id__in=review_ids).values_list(
        "message_id", flat=True
    )
    ranked = MessageReaction.objects.filter(
        user_id=user_id, message_id__in=ranking_ids, payload_type="RankingReactionPayload"
    ).values_list("message_id", flat=True)
    return UserActivity(
        user_id=user_id,
        pending_tasks=pending,
        labelled_message_ids=frozenset(labelled),
        ranked_parent_ids=frozenset(ranked),
        recent_message_ids=frozenset(recent),
        skipped_message_ids=frozenset(skipped),
    )


def task_availability(
    *, lang: str, config: TreeManagerConfig, now: datetime, user_id: uuid.UUID | None = None
) -> dict[str, int]:
    """Tasks per kind that could be handed out in ``lang`` (to ``user_id`` when given)."""
    candidates = task_candidates(lang=lang, config=config, now=now)
    if user_id is None:
        activity = UserActivity(user_id=None)
    else:
        activity = user_activity(user_id=user_id, candidates=candidates, config=config, now=now)
    candidates = policy.eligible_candidates(candidates, activity, config)
    return policy.determine_task_availability(candidates).as_dict()


def conversation_path(message_id: uuid.UUID) -> list[Message]:
    """The messages from the tree's prompt down to ``message_id`` (one query)."""
    tree_id = Message.objects.filter(id=message_id).values_list("message_tree_id", flat=True)
    by_id = {m.id: m for m in Message.objects.filter(message_tree_id__in=tree_id)}
    path: list[Message] = []
    current = by_id.get(message_id)
    while current is not None:
        path.append(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return path[::-1]


def messages_by_id(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Message]:
    return {m.id: m for m in Message.objects.filter(id__in=list(ids))}


def user_emojis(user_id: uuid.UUID, message_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The emoji codes ``user_id`` set on each of ``message_ids``."""
    from backend.trees.models import MessageEmoji

    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    for message_id, emoji in MessageEmoji.objects.filter(
        user_id=user_id, message_id__in=list(message_ids)
    ).values_list("message_id", "emoji"):
        found[message_id].append(emoji)
    return found


def task_of_client(task_id: uuid.UUID, *, api_client_id: uuid.UUID) -> Task | None:
    """One task of ``api_client_id`` with its user (another client's task does not exist)."""
    return (
        Task.objects.select_related("user").filter(id=task_id, api_client_id=api_client_id).first()
    )
