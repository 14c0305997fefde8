"""Writes on single messages outside the task flow: moderation (delete, undelete, halt),
edits with their revision history, and emoji reactions (OA ``PromptRepository``'s
``mark_messages_deleted``, ``undelete_deleted_message``, ``revise_message``,
``handle_message_emoji`` and ``TreeManager.halt_tree``).

Each function locks the tree row (or the message row, for emojis) first, so it serialises
with ``advance_tree`` on the same tree, and asks for a re-evaluation of the tree after
commit when what it changed can move the tree.
"""

from __future__ import annotations

import enum
import uuid

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from backend.accounts.models import User
from backend.trees import journal, ready_work
from backend.trees.core.lifecycle import TreeState
from backend.trees.errors import MessageNotFound
from backend.trees.growth_config import active_config
from backend.trees.models import FlaggedMessage, Message, MessageEmoji, MessageRevision, MessageTree
from backend.trees.services import trees
from backend.trees.services.interactions import clean_message_text

THUMBS_UP, THUMBS_DOWN, RED_FLAG = "+1", "-1", "red_flag"
# A user may not vote on their own message; +1 and -1 exclude each other (OA).
VOTES = {THUMBS_UP: THUMBS_DOWN, THUMBS_DOWN: THUMBS_UP}


class EmojiOp(enum.StrEnum):
    TOGGLE = "toggle"
    ADD = "add"
    REMOVE = "remove"


def _locked_tree_of(message_id: uuid.UUID) -> tuple[Message, MessageTree]:
    message = Message.objects.filter(id=message_id).first()
    if message is None:
        raise MessageNotFound(f"message {message_id} not found")
    tree = MessageTree.objects.select_for_update(no_key=True).get(id=message.message_tree_id)
    message.refresh_from_db()
    return message, tree


@transaction.atomic
def delete_message(*, message_id: uuid.UUID, actor: str) -> int:
    """Soft-delete a message with its whole subtree; returns how many rows changed."""
    message, tree = _locked_tree_of(message_id)
    changed = trees.delete_subtree(message.id, reason="moderator", actor=actor)
    ready_work.refresh_trees([tree.id], active_config())
    trees.enqueue_advance(tree.id)
    return changed


@transaction.atomic
def undelete_message(*, message_id: uuid.UUID, actor: str) -> int:
    """Undelete a message and every ancestor (OA): its conversation becomes whole again.

    The subtree below stays deleted. The ancestors' ``children_count`` (live, not rejected
    children) is recounted, as a child coming back takes a slot again."""
    message, tree = _locked_tree_of(message_id)
    by_id = {
        m.id: m
        for m in Message.objects.filter(message_tree_id=tree.id).only("id", "parent_id", "deleted")
    }
    chain, current = [], by_id[message.id]
    while current is not None:
        chain.append(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    revived = [m.id for m in chain if m.deleted]
    if revived:
        Message.objects.filter(id__in=revived).update(deleted=False)
        _recount_children([m.parent_id for m in chain if m.parent_id is not None])
    journal.record(
        "message_undeleted",
        payload={"count": len(revived)},
        message_tree_id=tree.id,
        message_id=message.id,
        actor=actor,
    )
    ready_work.refresh_trees([tree.id], active_config())
    trees.enqueue_advance(tree.id)
    return len(revived)


def _recount_children(parent_ids: list[uuid.UUID]) -> None:
    live = Q(children__deleted=False) & ~Q(children__review_result=False)
    counts = dict(
        Message.objects.filter(id__in=parent_ids)
        .annotate(n=Count("children", filter=live))
        .values_list("id", "n")
    )
    for parent_id, n in counts.items():
        Message.objects.filter(id=parent_id).update(children_count=n)


@transaction.atomic
def edit_message(*, message_id: uuid.UUID, editor: User, new_text: str) -> Message:
    """Replace a message's text, keeping every version as a ``MessageRevision`` (OA).

    The first edit also stores the original text (author, creation time), so the history
    lists all versions oldest first and its last entry is the current text."""
    text = clean_message_text(new_text)
    message, tree = _locked_tree_of(message_id)
    if not message.edited:
        MessageRevision.objects.create(
            message=message,
            text=message.text,
            user_id=message.user_id,
            created_at=message.created_at,
        )
    MessageRevision.objects.create(message=message, text=text, user=editor)
    message.text, message.edited = text, True
    message.save(update_fields=["text", "edited"])
    journal.record(
        "message_edited",
        payload={"length": len(text)},
        message_tree_id=tree.id,
        message_id=message.id,
        user_id=editor.id,
        api_client_id=editor.api_client_id,
    )
    return message


@transaction.atomic
def react_with_emoji(*, message_id: uuid.UUID, user: User, emoji: str, op: EmojiOp) -> Message:
    """Toggle, add or remove ``user``'s ``emoji`` on a message (OA ``handle_message_emoji``).

    ``Message.emojis`` keeps the number of ``MessageEmoji`` rows per code: the message row
    is locked, and the count of the changed code is recounted from the rows. A red flag
    also queues the message for moderators and re-evaluates the tree (auto moderation)."""
    message = Message.objects.select_for_update(no_key=True).filter(id=message_id).first()
    if message is None:
        raise MessageNotFound(f"message {message_id} not found")
    mine = set(
        MessageEmoji.objects.filter(message=message, user=user).values_list("emoji", flat=True)
    )
    op = EmojiOp(op)
    if op is EmojiOp.TOGGLE:
        op = EmojiOp.REMOVE if emoji in mine else EmojiOp.ADD
    if op is EmojiOp.REMOVE:
        if emoji in mine:
            MessageEmoji.objects.filter(message=message, user=user, emoji=emoji).delete()
            _recount(message, emoji, -1)
    elif emoji not in mine:
        if VOTES.get(emoji) in mine:
            MessageEmoji.objects.filter(message=message, user=user, emoji=VOTES[emoji]).delete()
            _recount(message, VOTES[emoji], -1)
        if emoji in VOTES and message.user_id == user.id:
            return _saved(message)
        MessageEmoji.objects.create(message=message, user=user, emoji=emoji)
        _recount(message, emoji, +1)
        if emoji == RED_FLAG:
            FlaggedMessage.objects.update_or_create(
                message=message, defaults={"processed": False, "created_at": timezone.now()}
            )
            trees.enqueue_advance(message.message_tree_id)
    journal.record(
        "message_emoji",
        payload={"emoji": emoji, "op": op.value},
        message_tree_id=message.message_tree_id,
        message_id=message.id,
        user_id=user.id,
        api_client_id=user.api_client_id,
    )
    return _saved(message)


def _recount(message: Message, emoji: str, delta: int) -> None:
    """Set the count of ``emoji`` from its rows. Codes starting with ``_`` (task skips) are
    also counted without rows by ``nack_task``, so those move by ``delta`` instead."""
    counts = dict(message.emojis or {})
    if emoji.startswith("_"):
        n = int(counts.get(emoji, 0)) + delta
    else:
        n = MessageEmoji.objects.filter(message=message, emoji=emoji).count()
    if n > 0:
        counts[emoji] = n
    else:
        counts.pop(emoji, None)
    message.emojis = counts


def _saved(message: Message) -> Message:
    message.save(update_fields=["emojis"])
    return message


@transaction.atomic
def set_tree_halted(*, message_id: uuid.UUID, halt: bool, actor: str) -> MessageTree:
    """Halt the tree of a message, or resume it (OA ``PUT /messages/{id}/tree/state``).

    Idempotent, as a PUT: halting a halted tree or resuming a running one changes nothing.
    Other moves go through ``trees.halt_tree``/``resume_tree`` and the lifecycle's rules."""
    _message, tree = _locked_tree_of(message_id)
    halted = tree.state == TreeState.HALTED_BY_MODERATOR
    if halt and not halted:
        tree = trees.halt_tree(tree_id=tree.id, actor=actor)
    elif not halt and halted:
        tree = trees.resume_tree(tree_id=tree.id, actor=actor)
        trees.enqueue_advance(tree.id)
    return tree
