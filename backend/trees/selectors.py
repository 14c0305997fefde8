"""Read queries of the tree engine: availability, conversations, labels, a client's task.

What can be handed out lives in the ready-work index (``backend.trees.ready_work``).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from backend.compiled_query import db_value, uuid_from_db
from backend.trees import work_queries
from backend.trees.core import policy
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.task_kinds import LABEL_KINDS, RANK_KINDS, TaskKind
from backend.trees.models import Message, MessageEmoji, Task


def task_availability(
    *, lang: str, config: TreeManagerConfig, now: datetime, user_id: uuid.UUID | None = None
) -> dict[str, int]:
    """Tasks per kind that could be handed out in ``lang`` (to ``user_id`` when given): the
    ready work with a free slot, after the user's exclusions."""
    rows = work_queries.eligible(lang=lang, now=now, config=config, user_id=user_id)
    return policy.determine_task_availability(work_queries.as_candidates(rows)).as_dict()


def conversation_path(message_id: uuid.UUID) -> list[PathMessage]:
    """The messages from the tree's prompt down to ``message_id`` (one query)."""
    return conversation_with_emojis(message_id, viewer_id=None)[0]


@dataclass(slots=True)
class PathMessage:
    """A message as a task's conversation shows it: the columns the wire JSON reads, without
    a model instance (building whole ``Message`` rows through a RawQuerySet was about a
    millisecond of each task request's CPU; these take a tenth of it)."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    user_id: uuid.UUID | None
    frontend_message_id: str | None
    text: str
    lang: str
    role: str
    emojis: dict
    synthetic: bool


def conversation_with_emojis(
    message_id: uuid.UUID, *, viewer_id: uuid.UUID | None, also: Iterable[uuid.UUID] = ()
) -> Conversation:
    """The path from the prompt down to ``message_id`` and the emojis ``viewer_id`` set on
    its messages, in one statement: a recursive walk up the parents (only the path's rows,
    not the whole tree), each message joined with the viewer's emojis. The messages ``also``
    names (a ranking task's replies) come in the same statement, by id."""
    sql, params = conversation_statement(message_id, viewer_id=viewer_id, also=also)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY grove_up DESC", params)
        return conversation_from_rows(cursor.fetchall())


# A conversation as read: the path (prompt first), the viewer's emojis by message, and the
# ``also`` messages by id.
Conversation = tuple[
    list["PathMessage"], dict[uuid.UUID, list[str]], dict[uuid.UUID, "PathMessage"]
]


def conversation_statement(
    message_id: uuid.UUID, *, viewer_id: uuid.UUID | None, also: Iterable[uuid.UUID] = ()
) -> tuple[str, list]:
    """``conversation_with_emojis``'s SQL and parameters, unordered (its rows carry
    ``grove_up``), for a statement that reads the conversation beside other work (the
    claim's: ``backend.trees.services.tasks``)."""
    viewer = None if viewer_id is None else db_value(viewer_id)
    extra = [db_value(i) for i in also]
    postgresql = connection.vendor == "postgresql"
    sql = _PATH_SQL if postgresql else _PATH_SQL_PORTABLE
    if extra and postgresql:  # by key, as the path (``_PATH_SQL``)
        wanted = ", ".join(["(%s::uuid)"] * len(extra))
        sql += f" UNION ALL SELECT {_PATH_COLUMNS}, NULL, -1 FROM (VALUES {wanted}) wanted(id)"
        sql += " CROSS JOIN LATERAL (SELECT * FROM {message} WHERE id = wanted.id LIMIT 1) m"
    elif extra:
        marks = ", ".join(["%s"] * len(extra))
        sql += f" UNION ALL SELECT {_PATH_COLUMNS}, NULL, -1 FROM {{message}} m"
        sql += f" WHERE m.id IN ({marks})"
    sql = sql.format(message=Message._meta.db_table, emoji=MessageEmoji._meta.db_table)
    return sql, [db_value(message_id), viewer, *extra]


def conversation_from_rows(rows: Iterable[tuple]) -> Conversation:
    """The statement's rows (``_PATH_COLUMNS``, the viewer's emoji, ``grove_up``) in
    ``grove_up`` order, highest first, as a ``Conversation``."""
    path: list[PathMessage] = []
    emojis: dict[uuid.UUID, list[str]] = defaultdict(list)
    others: dict[uuid.UUID, PathMessage] = {}
    for row in rows:
        *fields, viewer_emoji, up = row
        message_id = uuid_from_db(fields[0])
        if up < 0:
            others[message_id] = _path_message(fields)
            continue
        if not path or path[-1].id != message_id:
            path.append(_path_message(fields))
        if viewer_emoji is not None:
            emojis[message_id].append(viewer_emoji)
    return path, emojis, others


def task_conversation_target(kind: str, payload: dict) -> tuple[uuid.UUID, list[uuid.UUID]] | None:
    """The message whose path a task of ``kind`` shows and the messages it shows besides (a
    ranking's replies); None for a task without a conversation (an initial prompt)."""
    if kind == TaskKind.INITIAL_PROMPT.value:
        return None
    if kind in LABEL_KINDS:  # TaskKind is a StrEnum: a kind's value is in the set too
        return uuid.UUID(payload["message_id"]), []
    if kind in RANK_KINDS:
        return uuid.UUID(payload["parent_id"]), [uuid.UUID(i) for i in payload["reply_ids"]]
    return uuid.UUID(payload["parent_id"]), []


def _path_message(fields) -> PathMessage:
    id_, parent_id, user_id, frontend_id, text, lang, role, emojis, synthetic = fields
    if isinstance(emojis, str):  # JSON arrives as text from both databases' drivers here
        emojis = json.loads(emojis)
    return PathMessage(
        id=uuid_from_db(id_),
        parent_id=uuid_from_db(parent_id),
        user_id=uuid_from_db(user_id),
        frontend_message_id=frontend_id,
        text=text,
        lang=lang,
        role=role,
        emojis=emojis or {},
        synthetic=bool(synthetic),
    )


# Portable SQL (PostgreSQL and SQLite). ``grove_up`` counts the steps from the message, so
# the prompt comes first; the emoji join repeats a message once per emoji of the viewer.
_PATH_COLUMNS = (
    "m.id, m.parent_id, m.user_id, m.frontend_message_id, m.text, m.lang, m.role, m.emojis, "
    "m.synthetic"
)
# Each step of the walk and each path message by primary key, whatever the plan: a statement
# is planned once per connection (a generic plan), and one planned while ``trees_message`` was
# nearly empty joined the walk to the table by hash, reading every message on each call (the
# claim's 338 buffers a call in bench/cycles.py, growing with the forest; auto_explain). A
# LATERAL subquery with LIMIT 1 is not flattened into a join: it is run per row, by the key.
_PATH_SQL = f"""
WITH RECURSIVE path(id, parent_id, up) AS (
    SELECT id, parent_id, 0 FROM {{message}} WHERE id = %s
    UNION ALL
    SELECT parent.id, parent.parent_id, path.up + 1 FROM path
    CROSS JOIN LATERAL (
        SELECT id, parent_id FROM {{message}} WHERE id = path.parent_id LIMIT 1
    ) parent
)
SELECT {_PATH_COLUMNS}, e.emoji AS viewer_emoji, path.up AS grove_up
FROM path
CROSS JOIN LATERAL (SELECT * FROM {{message}} WHERE id = path.id LIMIT 1) m
LEFT JOIN {{emoji}} e ON e.message_id = m.id AND e.user_id = %s
"""
# SQLite (the embedded profile) has no LATERAL, and joins by nested loops over the key anyway.
_PATH_SQL_PORTABLE = f"""
WITH RECURSIVE path(id, parent_id, up) AS (
    SELECT id, parent_id, 0 FROM {{message}} WHERE id = %s
    UNION ALL
    SELECT m.id, m.parent_id, path.up + 1 FROM {{message}} m JOIN path ON m.id = path.parent_id
)
SELECT {_PATH_COLUMNS}, e.emoji AS viewer_emoji, path.up AS grove_up
FROM path
JOIN {{message}} m ON m.id = path.id
LEFT JOIN {{emoji}} e ON e.message_id = m.id AND e.user_id = %s
"""


def user_emojis(user_id: uuid.UUID, message_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The emoji codes ``user_id`` set on each of ``message_ids``."""
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    for message_id, emoji in MessageEmoji.objects.filter(
        user_id=user_id, message_id__in=list(message_ids)
    ).values_list("message_id", "emoji"):
        found[message_id].append(emoji)
    return found


def task_of_client(task_id: uuid.UUID, *, api_client_id: uuid.UUID) -> Task | None:
    """One task of ``api_client_id`` with its user (another client's task does not exist).
    Found by id alone, the client checked on the row (see task_lifecycle._LOCKED_TASK)."""
    task = Task.objects.select_related("user").filter(id=task_id).first()
    return task if task is not None and task.api_client_id == api_client_id else None
