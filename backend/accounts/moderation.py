"""Moderating users: purge a troll's messages and what they did, merge duplicate users.

Grove never hard-deletes messages (their rows are the audit trail and ``Message.user`` is
protected): a purge soft-deletes them with their subtrees, and halts the trees that a purged
initial prompt started. What the user's actions changed elsewhere (review counts, ranking
counts, emoji counts) is taken back. A purge runs as a preview by default, as in OA: the whole
change is made, measured and rolled back.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F

from backend.accounts.errors import UserNotFound
from backend.accounts.models import User
from backend.stats.models import TrollStats, UserStats
from backend.stats.selectors import SystemStats, system_stats
from backend.trees import journal
from backend.trees.core.lifecycle import TreeState
from backend.trees.models import (
    JournalEntry,
    Message,
    MessageEmoji,
    MessageReaction,
    MessageRevision,
    MessageTree,
    Task,
    TextLabels,
)
from backend.trees.services.trees import delete_subtree, enqueue_advance, set_state

RANKING = "RankingReactionPayload"


@dataclass(frozen=True)
class PurgeResult:
    """OA ``PurgeResultModel``."""

    before: SystemStats
    after: SystemStats
    preview: bool
    duration: float


def purge_user_messages(
    *,
    user_id: uuid.UUID,
    actor: str,
    purge_initial_prompts: bool = False,
    min_date: datetime | None = None,
    max_date: datetime | None = None,
    preview: bool = True,
) -> PurgeResult:
    """Soft-delete the user's messages (in the date range) with everything below them."""
    started = time.monotonic()
    with transaction.atomic():
        user = _user_for_update(user_id)
        before = system_stats()
        counts = _purge_messages(
            user, actor, purge_initial_prompts=purge_initial_prompts, dates=(min_date, max_date)
        )
        journal.record("user_messages_purged", payload=counts, user_id=user.id, actor=actor)
        after = system_stats()
        if preview:
            transaction.set_rollback(True)
    return PurgeResult(before, after, preview, time.monotonic() - started)


def purge_user(
    *, user_id: uuid.UUID, actor: str, ban: bool = True, preview: bool = True
) -> PurgeResult:
    """Purge every message of the user (prompts' trees halted), undo their reviews, rankings
    and emojis, drop their open tasks and stats, and (``ban``) disable the user."""
    started = time.monotonic()
    with transaction.atomic():
        user = _user_for_update(user_id)
        before = system_stats()
        counts = _purge_messages(user, actor, purge_initial_prompts=True, dates=(None, None))
        counts |= _undo_actions(user)
        if ban:
            User.objects.filter(id=user.id).update(enabled=False, deleted=True)
        journal.record(
            "user_purged", payload={**counts, "banned": ban}, user_id=user.id, actor=actor
        )
        after = system_stats()
        if preview:
            transaction.set_rollback(True)
    return PurgeResult(before, after, preview, time.monotonic() - started)


def _user_for_update(user_id: uuid.UUID) -> User:
    user = User.objects.select_for_update(no_key=True).filter(id=user_id).first()
    if user is None:
        raise UserNotFound(f"user {user_id} not found")
    return user


def _purge_messages(
    user: User, actor: str, *, purge_initial_prompts: bool, dates: tuple
) -> dict[str, int]:
    min_date, max_date = dates
    qs = Message.objects.filter(user=user)
    if min_date is not None:
        qs = qs.filter(created_at__gte=min_date)
    if max_date is not None:
        qs = qs.filter(created_at__lte=max_date)
    rows = list(qs.order_by("depth").values_list("id", "message_tree_id", "parent_id"))
    halted_trees: set[uuid.UUID] = set()
    if purge_initial_prompts:
        for _, tree_id, parent_id in rows:
            if parent_id is None:
                _purge_tree(tree_id, actor)
                halted_trees.add(tree_id)
    replies = [r for r in rows if r[2] is not None and r[1] not in halted_trees]
    for message_id, _, _ in replies:
        delete_subtree(message_id, reason="purge_user", actor=actor)
    _forget_rankings_of({parent_id for _, _, parent_id in replies})
    for tree_id in {tree_id for _, tree_id, _ in replies}:
        enqueue_advance(tree_id)
    return {"trees_halted": len(halted_trees), "replies_deleted": len(replies)}


def _purge_tree(tree_id: uuid.UUID, actor: str) -> None:
    tree = MessageTree.objects.select_for_update(no_key=True).get(id=tree_id)
    count = Message.objects.filter(message_tree_id=tree_id, deleted=False).update(deleted=True)
    if tree.state != TreeState.HALTED_BY_MODERATOR:
        set_state(tree, TreeState.HALTED_BY_MODERATOR, reason="purge_user", actor=actor)
    journal.record(
        "message_deleted",
        payload={"reason": "purge_user", "count": count},
        message_tree_id=tree_id,
        message_id=tree_id,
        actor=actor,
    )


def _forget_rankings_of(parent_ids: Iterable[uuid.UUID]) -> None:
    """Rankings that offered a purged reply are void (OA deletes them): its siblings are
    ranked again from scratch."""
    parent_ids = [p for p in parent_ids if p is not None]
    if not parent_ids:
        return
    MessageReaction.objects.filter(message_id__in=parent_ids, payload_type=RANKING).delete()
    Message.objects.filter(parent_id__in=parent_ids).update(ranking_count=0, rank=None)


def _undo_actions(user: User) -> dict[str, int]:
    """Take back what the user's reviews, rankings and emojis counted on other messages."""
    touched_trees: set[uuid.UUID] = set()
    reviews = TextLabels.objects.filter(user=user, task__isnull=False)
    for message_id, tree_id in reviews.values_list("message_id", "message__message_tree_id"):
        _uncount_review(message_id)
        touched_trees.add(tree_id)
    labels_removed, _ = TextLabels.objects.filter(user=user).delete()
    rankings = MessageReaction.objects.filter(user=user, payload_type=RANKING)
    for tree_id, payload in rankings.values_list("message__message_tree_id", "payload"):
        _uncount_ranking(payload)
        touched_trees.add(tree_id)
    reactions_removed, _ = MessageReaction.objects.filter(user=user).delete()
    emojis_removed = _remove_emojis(MessageEmoji.objects.filter(user=user))
    tasks_removed, _ = Task.objects.filter(user=user, done=False).delete()
    UserStats.objects.filter(user=user).delete()
    TrollStats.objects.filter(user=user).delete()
    for tree_id in touched_trees:
        enqueue_advance(tree_id)
    return {
        "labels_removed": labels_removed,
        "reactions_removed": reactions_removed,
        "emojis_removed": emojis_removed,
        "open_tasks_removed": tasks_removed,
    }


def _uncount_review(message_id: uuid.UUID) -> None:
    # A review only counts while the message awaits its verdict; a settled one stays settled.
    Message.objects.filter(id=message_id, review_result__isnull=True, review_count__gt=0).update(
        review_count=F("review_count") - 1
    )


def _uncount_ranking(payload: dict) -> None:
    ranked = payload.get("ranked_message_ids") or []
    Message.objects.filter(id__in=ranked, ranking_count__gt=0).update(
        ranking_count=F("ranking_count") - 1
    )


def _remove_emojis(rows) -> int:
    """Delete emoji rows and lower the counts kept on their messages."""
    by_message: dict[uuid.UUID, list[str]] = defaultdict(list)
    ids = []
    for row_id, message_id, emoji in rows.values_list("id", "message_id", "emoji"):
        by_message[message_id].append(emoji)
        ids.append(row_id)
    for message in Message.objects.select_for_update(no_key=True).filter(id__in=list(by_message)):
        counts = dict(message.emojis or {})
        for emoji in by_message[message.id]:
            left = counts.get(emoji, 0) - 1
            if left > 0:
                counts[emoji] = left
            else:
                counts.pop(emoji, None)
        Message.objects.filter(id=message.id).update(emojis=counts)
    MessageEmoji.objects.filter(id__in=ids).delete()
    return len(ids)


@transaction.atomic
def merge_users(
    *, destination_user_id: uuid.UUID, source_user_ids: Iterable[uuid.UUID], actor: str
) -> int:
    """Move everything of the source users to the destination user, then delete the sources.

    Where both did the same thing once-only (an emoji, a ranking, a review of one message),
    the destination's row is kept and the duplicate is taken back. Returns how many users
    were merged in.
    """
    sources = sorted({s for s in source_user_ids if s != destination_user_id})
    if not sources:
        return 0
    if not User.objects.select_for_update(no_key=True).filter(id=destination_user_id).exists():
        raise UserNotFound(f"user {destination_user_id} not found")
    sources = list(
        User.objects.select_for_update(no_key=True)
        .filter(id__in=sources)
        .values_list("id", flat=True)
    )
    if not sources:
        return 0
    _drop_duplicates(destination_user_id, sources)
    for model in (Message, MessageRevision, MessageReaction, MessageEmoji, TextLabels, Task):
        model.objects.filter(user_id__in=sources).update(user_id=destination_user_id)
    JournalEntry.objects.filter(user_id__in=sources).update(user_id=destination_user_id)
    UserStats.objects.filter(user_id__in=sources).delete()
    TrollStats.objects.filter(user_id__in=sources).delete()
    User.objects.filter(id__in=sources).delete()
    journal.record(
        "users_merged",
        payload={"source_user_ids": [str(s) for s in sources]},
        user_id=destination_user_id,
        actor=actor,
    )
    return len(sources)


def _drop_duplicates(destination: uuid.UUID, sources: list[uuid.UUID]) -> None:
    everyone = [destination, *sources]
    first = {u: i for i, u in enumerate(everyone)}  # the destination wins, then source order

    def losers(rows) -> list:
        kept: dict = {}
        dropped = []
        for row_id, _user_id, key in sorted(rows, key=lambda r: first[r[1]]):
            if key in kept:
                dropped.append(row_id)
            else:
                kept[key] = row_id
        return dropped

    emoji_rows = MessageEmoji.objects.filter(user_id__in=everyone).values_list(
        "id", "user_id", "message_id", "emoji"
    )
    dup_emojis = losers((i, u, (m, e)) for i, u, m, e in emoji_rows)
    _remove_emojis(MessageEmoji.objects.filter(id__in=dup_emojis))

    reaction_rows = MessageReaction.objects.filter(user_id__in=everyone).values_list(
        "id", "user_id", "message_id", "payload_type"
    )
    dup_reactions = losers((i, u, (m, t)) for i, u, m, t in reaction_rows)
    for payload_type, payload in MessageReaction.objects.filter(id__in=dup_reactions).values_list(
        "payload_type", "payload"
    ):
        if payload_type == RANKING:
            _uncount_ranking(payload)
    MessageReaction.objects.filter(id__in=dup_reactions).delete()

    review_rows = TextLabels.objects.filter(user_id__in=everyone, task__isnull=False).values_list(
        "id", "user_id", "message_id"
    )
    dup_reviews = losers(review_rows)
    for message_id in TextLabels.objects.filter(id__in=dup_reviews).values_list(
        "message_id", flat=True
    ):
        _uncount_review(message_id)
    TextLabels.objects.filter(id__in=dup_reviews).delete()
