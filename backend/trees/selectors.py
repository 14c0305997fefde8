"""Read queries of the tree engine: availability, conversations, labels, a client's task.

What can be handed out lives in the ready-work index (``backend.trees.ready_work``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from backend.trees import work_queries
from backend.trees.core import policy
from backend.trees.core.config import TreeManagerConfig
from backend.trees.models import Message, Task


def task_availability(
    *, lang: str, config: TreeManagerConfig, now: datetime, user_id: uuid.UUID | None = None
) -> dict[str, int]:
    """Tasks per kind that could be handed out in ``lang`` (to ``user_id`` when given): the
    ready work with a free slot, after the user's exclusions."""
    rows = work_queries.eligible(lang=lang, now=now, config=config, user_id=user_id)
    return policy.determine_task_availability(work_queries.as_candidates(rows)).as_dict()


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
