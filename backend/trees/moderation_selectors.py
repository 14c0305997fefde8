"""Read queries for moderators: flagged messages (list and keyset pages) and the labels a
message can be given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from backend.trees.core.config import TreeManagerConfig
from backend.trees.errors import MessageNotFound
from backend.trees.message_queries import KeysetBound, keyset_after, keyset_before, keyset_page
from backend.trees.models import FlaggedMessage, Message

MAX_PAGE_SIZE = 1000


def flagged_messages(*, max_count: int | None) -> list[FlaggedMessage]:
    """Flagged messages, oldest first (processed ones included, as in OA)."""
    limit = min(max_count or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    return list(FlaggedMessage.objects.order_by("created_at", "message_id")[:limit])


@dataclass(frozen=True)
class FlaggedPage:
    """OA ``PageResult``: ``prev``/``next`` bounds around ``items``."""

    items: list[FlaggedMessage]
    prev: KeysetBound | None
    next: KeysetBound | None
    order: str


def flagged_messages_page(
    *,
    before: KeysetBound | None,
    after: KeysetBound | None,
    max_count: int,
    desc: bool,
) -> FlaggedPage:
    """One keyset page of flagged messages by creation time (OA's rules: ``keyset_page``)."""

    def fetch(lower, upper, query_descending, limit):
        query = FlaggedMessage.objects.all()
        if lower is not None:
            query = query.filter(keyset_after(lower, id_field="message_id"))
        if upper is not None:
            query = query.filter(keyset_before(upper, id_field="message_id"))
        order = ("-created_at", "-message_id") if query_descending else ("created_at", "message_id")
        return list(query.order_by(*order)[:limit])

    items, prev, nxt = keyset_page(
        fetch,
        key=lambda flag: KeysetBound(flag.created_at, flag.message_id),
        max_count=max_count,
        descending=desc,
        before=before,
        after=after,
    )
    return FlaggedPage(items=items, prev=prev, next=nxt, order="desc" if desc else "asc")


def labels_for_message(message_id: uuid.UUID, config: TreeManagerConfig) -> tuple[str, ...]:
    """The labels the active configuration asks for on this message's kind (OA rule)."""
    row = Message.objects.filter(id=message_id).values_list("parent_id", "role").first()
    if row is None:
        raise MessageNotFound(f"message {message_id} not found")
    parent_id, role = row
    if parent_id is None:
        return config.labels_initial_prompt
    if role == "assistant":
        return config.labels_assistant_reply
    return config.labels_prompter_reply
