"""Read queries behind the v1 message endpoints: lists, keyset pages, trees and their parts.

A tree is read whole in one query (trees are bounded by their goal size), then cut in
Python: the conversation to a message, its children, its descendants, the longest
conversation, the parent with most children. Lists run one query whatever their length;
the viewer's own emojis are one more query (``selectors.user_emojis``).

Messages are a shared dataset: any API client may read any message. Listing by author or
by client is scoped (``message_page``): an untrusted client only lists its own messages.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db.models import BooleanField, ExpressionWrapper, Q

from backend.accounts.models import ApiClient, User
from backend.trees.errors import ForeignApiClient, MessageNotFound, TreeNotFound
from backend.trees.models import Message, MessageRevision, MessageTree

T = TypeVar("T")

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class TreeView:
    """Every message of one tree and the message a request named (the anchor)."""

    anchor: Message
    messages: tuple[Message, ...]

    def accepted(self, *, include_spam: bool = False, include_deleted: bool = False):
        """OA's tree filters: ``review_result=True`` unless spam is wanted, not deleted."""
        return [
            m
            for m in self.messages
            if (include_spam or m.review_result is True) and (include_deleted or not m.deleted)
        ]

    def conversation(self, last: Message | None = None) -> list[Message]:
        """Root → ``last`` (default: the anchor)."""
        by_id = {m.id: m for m in self.messages}
        path, current = [], last or self.anchor
        while current is not None:
            path.append(current)
            current = by_id.get(current.parent_id) if current.parent_id else None
        return path[::-1]

    def children(self, *, accepted_only: bool) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.parent_id == self.anchor.id
            and not m.deleted
            and (not accepted_only or m.review_result is True)
        ]

    def descendants(self) -> list[Message]:
        """The anchor's subtree without the anchor, depth first (OA: no review/deleted filter)."""
        below: dict[uuid.UUID, list[Message]] = defaultdict(list)
        for m in self.messages:
            below[m.parent_id].append(m)

        def walk(parent_id: uuid.UUID) -> Iterator[Message]:
            for child in below[parent_id]:
                yield child
                yield from walk(child.id)

        return list(walk(self.anchor.id))

    def longest_conversation(self) -> list[Message]:
        """Root → the deepest accepted, live message (oldest first among equals)."""
        live = self.accepted()
        if not live:
            raise TreeNotFound(f"tree {self.anchor.message_tree_id} has no accepted message")
        deepest = max(live, key=lambda m: (m.depth, -m.created_at.timestamp()))
        return self.conversation(deepest)

    def max_children(self) -> tuple[Message, list[Message]]:
        """The accepted, live message with most children, and its accepted, live children."""
        live = self.accepted()
        if not live:
            raise TreeNotFound(f"tree {self.anchor.message_tree_id} has no accepted message")
        parent = max(live, key=lambda m: (m.children_count, -m.created_at.timestamp()))
        return parent, [m for m in live if m.parent_id == parent.id]


def _tree_of(anchor_filter: Q, not_found: str) -> TreeView:
    """One query: every message of the tree holding the message ``anchor_filter`` names."""
    tree_ids = Message.objects.filter(anchor_filter).values("message_tree_id")
    rows = list(
        Message.objects.filter(message_tree_id__in=tree_ids)
        .annotate(is_anchor=ExpressionWrapper(anchor_filter, output_field=BooleanField()))
        .order_by("depth", "created_at", "id")
    )
    anchor = next((m for m in rows if m.is_anchor), None)
    if anchor is None:
        raise MessageNotFound(not_found)
    return TreeView(anchor=anchor, messages=tuple(rows))


def tree_of_message(message_id: uuid.UUID) -> TreeView:
    return _tree_of(Q(id=message_id), f"message {message_id} not found")


def tree_of_frontend_message(api_client: ApiClient, frontend_message_id: str) -> TreeView:
    """Frontend message ids are the calling client's own: unique per client only."""
    return _tree_of(
        Q(api_client_id=api_client.id, frontend_message_id=frontend_message_id),
        f"message with frontend_message_id {frontend_message_id!r} not found",
    )


def message_by_id(message_id: uuid.UUID) -> Message:
    message = Message.objects.filter(id=message_id).first()
    if message is None:
        raise MessageNotFound(f"message {message_id} not found")
    return message


def tree_state(message_id: uuid.UUID) -> MessageTree:
    """The state row of the tree ``message_id`` belongs to (one query)."""
    tree = MessageTree.objects.filter(
        id__in=Message.objects.filter(id=message_id).values("message_tree_id")
    ).first()
    if tree is None:
        raise MessageNotFound(f"message {message_id} not found")
    return tree


def revision_history(message_id: uuid.UUID) -> list[MessageRevision]:
    """Every stored version of a message, oldest first (404 when the message is unknown)."""
    revisions = list(
        MessageRevision.objects.filter(message_id=message_id).order_by("created_at", "id")
    )
    if not revisions and not Message.objects.filter(id=message_id).exists():
        raise MessageNotFound(f"message {message_id} not found")
    return revisions


def client_user(api_client: ApiClient, auth_method: str, username: str) -> User | None:
    """A user of ``api_client`` (never another client's), or None; never creates one."""
    return User.objects.filter(
        api_client=api_client, auth_method=auth_method, username=username
    ).first()


@dataclass(frozen=True)
class MessageFilter:
    """OA's message query parameters (``query_messages_ordered_by_created_date``)."""

    user_id: uuid.UUID | None = None
    auth_method: str | None = None
    username: str | None = None
    api_client_id: uuid.UUID | None = None
    only_roots: bool = False
    include_deleted: bool = False
    lang: str | None = None
    search_query: str | None = None


@dataclass(frozen=True)
class KeysetBound:
    """``created_at`` (and optionally ``id``) a page starts after or ends before."""

    created_at: datetime
    message_id: uuid.UUID | None = None


def messages_by_created(
    *,
    caller: ApiClient,
    where: MessageFilter,
    limit: int,
    descending: bool,
    after: KeysetBound | None = None,
    before: KeysetBound | None = None,
    include_user: bool = False,
) -> list[Message]:
    """Messages ordered by (created_at, id), strictly between the bounds; one query.

    An untrusted client lists only its own client's messages: without ``api_client_id`` it
    gets them, with another client's id it gets ``ForeignApiClient`` (OA's 403).
    """
    api_client_id = where.api_client_id
    if not caller.trusted:
        if api_client_id is not None and api_client_id != caller.id:
            raise ForeignApiClient("an untrusted API client can only list its own messages")
        api_client_id = caller.id
    query = Message.objects.all()
    if include_user:
        query = query.select_related("user")
    if api_client_id is not None:
        query = query.filter(api_client_id=api_client_id)
    if where.user_id is not None:
        query = query.filter(user_id=where.user_id)
    if where.username is not None:
        query = query.filter(user__username=where.username, user__auth_method=where.auth_method)
    if after is not None:
        query = query.filter(keyset_after(after))
    if before is not None:
        query = query.filter(keyset_before(before))
    if where.only_roots:
        query = query.filter(parent__isnull=True)
    if not where.include_deleted:
        query = query.filter(deleted=False)
    if where.lang is not None:
        query = query.filter(lang=where.lang)
    if where.search_query:
        query = query.filter(text__icontains=where.search_query)
    order = ("-created_at", "-id") if descending else ("created_at", "id")
    return list(query.order_by(*order)[: min(limit, MAX_PAGE_SIZE + 1)])


def keyset_after(bound: KeysetBound, *, id_field: str = "id") -> Q:
    """Rows after ``bound`` in (created_at, id) order; a bare date bound is inclusive."""
    if bound.message_id is None:
        return Q(created_at__gte=bound.created_at)
    return Q(created_at__gt=bound.created_at) | Q(
        created_at=bound.created_at, **{f"{id_field}__gt": bound.message_id}
    )


def keyset_before(bound: KeysetBound, *, id_field: str = "id") -> Q:
    """Rows before ``bound`` in (created_at, id) order; a bare date bound is inclusive."""
    if bound.message_id is None:
        return Q(created_at__lte=bound.created_at)
    return Q(created_at__lt=bound.created_at) | Q(
        created_at=bound.created_at, **{f"{id_field}__lt": bound.message_id}
    )


def keyset_page(
    fetch: Callable[[KeysetBound | None, KeysetBound | None, bool, int], list[T]],
    *,
    key: Callable[[T], KeysetBound],
    max_count: int,
    descending: bool,
    before: KeysetBound | None = None,
    after: KeysetBound | None = None,
) -> tuple[list[T], KeysetBound | None, KeysetBound | None]:
    """OA's keyset paging rules, for any listing ordered by (created_at, id).

    ``before``/``after`` are positions in the display order (``descending`` or not).
    ``fetch(lower, upper, query_descending, limit)`` returns rows strictly between the
    bounds; one row more than asked tells whether more follow. Returns the items and the
    ``prev``/``next`` bounds: the first/last item, or, on an empty page, the date of the
    cursor the caller came from.
    """
    # In a descending listing the rows "before" a cursor are the newer ones.
    lower, upper = (before, after) if descending else (after, before)
    query_descending = (
        (before is None or after is not None)
        if descending
        else (before is not None and after is None)
    )
    both = before is not None and after is not None
    rows = fetch(lower, upper, query_descending, max_count if both else max_count + 1)
    more = not both and len(rows) > max_count
    items = rows[:max_count]
    if query_descending != descending:
        items.reverse()
    prev = nxt = None
    if items:
        if (more and before is not None) or after is not None:
            prev = key(items[0])
        if more or before is not None:
            nxt = key(items[-1])
    else:
        if after is not None:
            prev = KeysetBound(after.created_at)
        if before is not None:
            nxt = KeysetBound(before.created_at)
    return items, prev, nxt


@dataclass(frozen=True)
class MessagePage:
    items: list[Message]
    prev: KeysetBound | None
    next: KeysetBound | None


def message_page(
    *,
    caller: ApiClient,
    where: MessageFilter,
    max_count: int,
    descending: bool,
    before: KeysetBound | None = None,
    after: KeysetBound | None = None,
    include_user: bool = False,
) -> MessagePage:
    """OA's keyset page of messages (``GET /messages/cursor``); rules in ``keyset_page``."""

    def fetch(lower, upper, query_descending, limit):
        return messages_by_created(
            caller=caller,
            where=where,
            limit=limit,
            descending=query_descending,
            after=lower,
            before=upper,
            include_user=include_user,
        )

    items, prev, nxt = keyset_page(
        fetch,
        key=lambda m: KeysetBound(m.created_at, m.id),
        max_count=max_count,
        descending=descending,
        before=before,
        after=after,
    )
    return MessagePage(items=items, prev=prev, next=nxt)
