"""Handing out tasks (ack, nack and close live in ``task_lifecycle``).

``request_task`` asks the pure policy what to do and then *reserves* the slot in one
transaction: the tree row is locked, the slot re-checked against committed rows (children
and open tasks), and only then the task inserted. Two requests racing for the last reply slot
of a node therefore serialise on the lock and the second sees the first one's task.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend import events
from backend.accounts.models import ApiClient, User
from backend.trees import journal, selectors
from backend.trees.core import policy
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.lifecycle import TreeState
from backend.trees.core.policy import (
    ChosenTask,
    ExtendibleParent,
    NoTaskAvailable,
    RankingCandidate,
    ReviewCandidate,
    TaskKind,
)
from backend.trees.growth_config import active_config
from backend.trees.models import Message, MessageReaction, MessageTree, Task

RESERVATION_ATTEMPTS = 5


def request_task(
    *,
    user: User,
    kind: TaskKind,
    lang: str,
    api_client: ApiClient | None = None,
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> Task:
    """Choose and reserve the next task for ``user`` in ``lang``.

    Raises ``NoTaskAvailable`` (or its ``TooManyPendingTasks``) when nothing can be handed out.
    """
    from backend.trees.services.trees import run_prompt_lottery

    config = active_config()
    rng = rng or random.Random()
    now = now or timezone.now()
    counts = selectors.tree_state_counts(lang)
    lottery_open = counts.prompt_lottery_waiting and counts.growing < config.max_active_trees
    if lottery_open and run_prompt_lottery(lang=lang, rng=rng):
        counts = selectors.tree_state_counts(lang)
    candidates = selectors.task_candidates(lang=lang, config=config, now=now, counts=counts)
    activity = selectors.user_activity(
        user_id=user.id, candidates=candidates, config=config, now=now
    )
    for _attempt in range(RESERVATION_ATTEMPTS):
        chosen = policy.choose_task(kind, candidates, activity, config, rng)
        task = _reserve(
            chosen,
            user=user,
            api_client=api_client or user.api_client,
            lang=lang,
            config=config,
            rng=rng,
            now=now,
            explicit=kind is not TaskKind.RANDOM,
        )
        if task is not None:
            return task
        candidates = _without(candidates, chosen.target)
    raise NoTaskAvailable(kind, "every candidate was taken by concurrent requests")


def _without(candidates: policy.TaskCandidates, target) -> policy.TaskCandidates:
    def keep(items):
        return tuple(item for item in items if item is not target)

    return dataclasses.replace(
        candidates,
        prompts_need_review=keep(candidates.prompts_need_review),
        replies_need_review=keep(candidates.replies_need_review),
        extendible_parents=keep(candidates.extendible_parents),
        incomplete_rankings=keep(candidates.incomplete_rankings),
    )


@transaction.atomic
def _reserve(
    chosen: ChosenTask,
    *,
    user: User,
    api_client: ApiClient,
    lang: str,
    config: TreeManagerConfig,
    rng: random.Random,
    now: datetime,
    explicit: bool,
) -> Task | None:
    """Insert the task if its slot is still free under the tree lock; None if it was taken."""
    # The user row lock keeps one user's concurrent requests under max_pending_tasks_per_user.
    User.objects.select_for_update().filter(id=user.id).first()
    pending = Task.objects.filter(selectors.open_tasks(now), user_id=user.id).count()
    if pending >= config.max_pending_tasks_per_user:
        raise policy.TooManyPendingTasks(chosen.kind, "too many pending tasks")
    target = chosen.target
    fields: dict = {"payload": {"kind": chosen.kind.value, "lang": lang}}
    if target is not None:
        tree = MessageTree.objects.select_for_update().filter(id=target.tree_id).first()
        if tree is None:
            return None
        fields = _slot_fields(chosen, tree=tree, config=config, rng=rng, now=now, explicit=explicit)
        if fields is None:
            return None
        fields["payload"]["lang"] = lang
    task = Task.objects.create(
        payload_type=chosen.kind.value,
        user=user,
        api_client=api_client,
        created_at=now,
        expiry_date=now + timedelta(seconds=settings.GROVE_TASK_EXPIRY_SECONDS),
        **fields,
    )
    journal.record(
        "task_created",
        payload={"kind": chosen.kind.value},
        message_tree_id=task.message_tree_id,
        message_id=task.parent_message_id,
        user_id=user.id,
        api_client_id=api_client.id,
    )
    events.publish_to_assignee("task_assigned", task)
    return task


def _slot_fields(chosen, *, tree, config, rng, now, explicit) -> dict | None:
    target = chosen.target
    open_here = Task.objects.filter(selectors.open_tasks(now), payload_type=chosen.kind.value)
    if isinstance(target, ExtendibleParent):
        parent = Message.objects.filter(
            id=target.message_id, deleted=False, review_result=True
        ).first()
        if parent is None or tree.state != TreeState.GROWING:
            return None
        live_children = parent.children.filter(deleted=False).exclude(review_result=False)
        limit = tree.max_children_count
        if parent.role == "assistant":
            limit = min(limit, config.num_prompter_replies)
        if (
            parent.depth >= tree.max_depth
            or live_children.count() >= limit
            or open_here.filter(parent_message_id=parent.id).exists()
        ):
            return None
        payload = {"kind": chosen.kind.value, "parent_id": str(parent.id)}
        return {"payload": payload, "message_tree": tree, "parent_message": parent}
    if isinstance(target, ReviewCandidate):
        message = Message.objects.filter(
            id=target.message_id, deleted=False, review_result__isnull=True
        ).first()
        required = (
            config.num_reviews_initial_prompt
            if message and message.depth == 0
            else (config.num_reviews_reply)
        )
        if message is None or tree.state not in (
            TreeState.INITIAL_PROMPT_REVIEW,
            TreeState.GROWING,
        ):
            return None
        if (
            message.review_count + open_here.filter(parent_message_id=message.id).count()
            >= required
        ):
            return None
        spec = policy.label_task_mode(
            policy.Role(message.role), message.depth, config, rng, explicit_request=explicit
        )
        payload = {
            "kind": chosen.kind.value,
            "message_id": str(message.id),
            "mode": spec.mode,
            "disposition": spec.disposition,
            "valid_labels": list(spec.valid_labels),
            "mandatory_labels": list(spec.mandatory_labels),
        }
        return {"payload": payload, "message_tree": tree, "parent_message": message}
    if isinstance(target, RankingCandidate):
        if tree.state != TreeState.RANKING:
            return None
        done = MessageReaction.objects.filter(
            message_id=target.parent_id, payload_type="RankingReactionPayload"
        ).count()
        if done + open_here.filter(parent_message_id=target.parent_id).count() >= (
            config.num_required_rankings
        ):
            return None
        reply_ids = list(
            Message.objects.filter(parent_id=target.parent_id, review_result=True, deleted=False)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if len(reply_ids) < 2:
            return None
        rng.shuffle(reply_ids)  # offered in random order, so position carries no bias
        payload = {
            "kind": chosen.kind.value,
            "parent_id": str(target.parent_id),
            "reply_ids": [str(i) for i in reply_ids],
        }
        return {"payload": payload, "message_tree": tree, "parent_message_id": target.parent_id}
    raise TypeError(f"unknown task target {target!r}")
