"""Read queries for moderators: flagged messages (list and keyset pages), system counts, and
the labels a message can be given."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q

from backend.trees.config import TreeManagerConfig
from backend.trees.errors import MessageNotFound, TreeEngineError
from backend.trees.models import FlaggedMessage, Message

MAX_PAGE_SIZE = 1000
# A cursor is "<uuid>$<iso datetime>" (a row's key) or a bare ISO datetime (OA's format).
_KEYED_CURSOR = re.compile(r"^([0-9a-fA-F-]{36})\$(.+)$")


class InvalidCursor(TreeEngineError):
    code = "invalid_cursor"


def flagged_messages(*, max_count: int | None) -> list[FlaggedMessage]:
    """Flagged messages, oldest first (processed ones included, as in OA)."""
    limit = min(max_count or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    return list(FlaggedMessage.objects.order_by("created_at", "message_id")[:limit])


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    message_id: uuid.UUID | None


def parse_cursor(raw: str | None) -> Cursor | None:
    if not raw:
        return None
    try:
        match = _KEYED_CURSOR.match(raw)
        if match:
            return Cursor(_aware(datetime.fromisoformat(match[2])), uuid.UUID(match[1]))
        return Cursor(_aware(datetime.fromisoformat(raw)), None)
    except ValueError:
        raise InvalidCursor(f"invalid cursor value {raw!r}") from None


def _aware(value: datetime) -> datetime:
    # OA reads a cursor without a zone as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cursor_of(flag: FlaggedMessage) -> str:
    return f"{flag.message_id}${flag.created_at.isoformat()}"


@dataclass(frozen=True)
class FlaggedPage:
    """OA ``PageResult``: ``prev``/``next`` cursors around ``items``."""

    items: list[FlaggedMessage]
    prev: str | None
    next: str | None
    order: str


def flagged_messages_page(
    *, before: str | None, after: str | None, max_count: int, desc: bool
) -> FlaggedPage:
    """One keyset page of flagged messages by creation time, with OA's cursor rules.

    ``before``/``after`` bound the page (exclusive when the cursor names a row); with neither,
    the first page. One extra row is fetched to know whether a further page exists.
    """
    if desc:
        lower, upper = parse_cursor(before), parse_cursor(after)
        query_desc = not (before is not None and not after)
    else:
        upper, lower = parse_cursor(before), parse_cursor(after)
        query_desc = before is not None and not after
    fetch = max_count + 1 if before is None or after is None else max_count
    rows = list(_bounded(lower, upper, query_desc)[:fetch])
    fetched = len(rows)
    if fetch > max_count and fetched == fetch:
        rows = rows[:-1]
    if desc != query_desc:
        rows.reverse()
    prev = next_ = None
    if rows:
        if (fetched > max_count and before) or after:
            prev = cursor_of(rows[0])
        if fetched > max_count or before:
            next_ = cursor_of(rows[-1])
    else:
        # An empty page still points back at where it was asked for.
        if after:
            bound = upper if desc else lower
            prev = bound.created_at.isoformat() if bound else None
        if before:
            bound = lower if desc else upper
            next_ = bound.created_at.isoformat() if bound else None
    return FlaggedPage(items=rows, prev=prev, next=next_, order="desc" if desc else "asc")


def _bounded(lower: Cursor | None, upper: Cursor | None, desc: bool):
    qs = FlaggedMessage.objects.all()
    if lower is not None:
        if lower.message_id:
            qs = qs.filter(
                Q(created_at__gt=lower.created_at)
                | Q(created_at=lower.created_at, message_id__gt=lower.message_id)
            )
        else:
            qs = qs.filter(created_at__gte=lower.created_at)
    if upper is not None:
        if upper.message_id:
            qs = qs.filter(
                Q(created_at__lt=upper.created_at)
                | Q(created_at=upper.created_at, message_id__lt=upper.message_id)
            )
        else:
            qs = qs.filter(created_at__lte=upper.created_at)
    if desc:
        return qs.order_by("-created_at", "-message_id")
    return qs.order_by("created_at", "message_id")


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
