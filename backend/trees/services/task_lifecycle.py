"""The life of a task once handed out, before or instead of an interaction: ack, nack, close.

Every function locks the task row and checks it belongs to the calling API client (another
client's task does not exist for it) and, when a user is named, to that user.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace

from django.db import connection, transaction
from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.compiled_query import SENTINEL_IDS, CompiledQuery
from backend.fast_writes import update
from backend.observability.metrics import TASKS_ACKED, TASKS_SKIPPED, count_task
from backend.push import signals as push_signals
from backend.trees import journal
from backend.trees.core.task_kinds import REPLY_KINDS
from backend.trees.errors import (
    DuplicateFrontendMessageId,
    TaskAlreadyAcked,
    TaskAlreadyDone,
    TaskExpired,
    TaskNotFound,
    TaskNotOwned,
)
from backend.trees.models import Message, Task

# Every ack and answer starts here: compiled once (``backend.compiled_query``). By id alone,
# the client checked on the row: with ``api_client_id`` in the statement too, a generic plan
# made while the table was small could take ``task_frontend_message`` (api_client_id, ...) with
# the client as its only condition and read every task of the client on each call (seen at
# 1,300 buffers a call in bench/cycles.py; tests/db/test_stale_plans.py). Another client's
# task (its id known) is locked only until the refusal rolls the transaction back.
_LOCKED_TASK = CompiledQuery(
    lambda task_id: Task.objects.select_for_update(no_key=True).filter(id=task_id)[:1],
    sentinels={"task_id": SENTINEL_IDS[0]},
)


def _locked_task(
    task_id: uuid.UUID,
    *,
    api_client_id: uuid.UUID,
    user: User | None,
    with_write: tuple[str, list] | None = None,
) -> Task:
    """Lock a task of this API client; another client's task does not exist for it.
    ``with_write``: a write sent in the same statement (``CompiledQuery.fetch``)."""
    found = _LOCKED_TASK.fetch({"task_id": task_id}, with_write=with_write)
    task = found[0] if found else None
    if task is None or task.api_client_id != api_client_id:
        raise TaskNotFound(f"task {task_id} not found")
    if user is not None and task.user_id is not None and task.user_id != user.id:
        raise TaskNotOwned(f"task {task_id} is assigned to another user")
    return task


def open_task_for_update(
    task_id: uuid.UUID,
    user: User | None,
    now: datetime,
    *,
    api_client_id: uuid.UUID | None = None,
    with_write: tuple[str, list] | None = None,
) -> Task:
    """Lock a task that may still be worked on: this client's (and this user's, when given),
    not done, not skipped, not expired. ``with_write`` (PostgreSQL) is sent with the lock in
    one statement and runs after it, whatever the checks find: a caller raises out of its
    transaction when they fail."""
    client_id = api_client_id if api_client_id is not None else user.api_client_id
    task = _locked_task(task_id, api_client_id=client_id, user=user, with_write=with_write)
    if task.done or task.skipped:
        raise TaskAlreadyDone(f"task {task_id} is already closed")
    if task.expiry_date is not None and task.expiry_date <= now:
        raise TaskExpired(f"task {task_id} expired at {task.expiry_date.isoformat()}")
    return task


_OPEN_TASK_BOUND_ELSEWHERE = CompiledQuery(
    lambda api_client_id, frontend_message_id, task_id: (
        Task.objects.filter(
            api_client_id=api_client_id,
            frontend_message_id=frontend_message_id,
            done=False,
            skipped=False,
        )
        .exclude(id=task_id)
        .values_list("id")[:1]
    ),
    sentinels={
        "api_client_id": SENTINEL_IDS[0],
        "frontend_message_id": "grove-frontend-id",
        "task_id": SENTINEL_IDS[1],
    },
)


def ack_task(
    *,
    task_id: uuid.UUID,
    frontend_message_id: str,
    user: User | None = None,
    api_client: ApiClient | None = None,
    now: datetime | None = None,
    one_statement_tried: bool = False,
) -> None:
    """The frontend shows the task; it will refer to it by ``frontend_message_id``.

    ``user`` (from X-OASST-USER) is optional, as in OA: without it the task only has to belong
    to ``api_client``. On PostgreSQL an ack that is in order takes one statement (no
    transaction of its own); one that is not goes through the checks that say why.
    ``one_statement_tried``: the caller's ``ack_in_one_statement`` found it not in order."""
    client_id = api_client.id if api_client is not None else user.api_client_id
    now = now or timezone.now()
    user_id = user.id if user is not None else None
    if one_statement_tried or not ack_in_one_statement(
        task_id, frontend_message_id, client_id, now, user_id=user_id
    ):
        _ack_checked(
            task_id=task_id,
            frontend_message_id=frontend_message_id,
            user=user,
            client_id=client_id,
            now=now,
        )


def ack_in_one_statement(
    task_id: uuid.UUID,
    frontend_message_id: str,
    client_id: uuid.UUID,
    now: datetime,
    *,
    user_id: uuid.UUID | None = None,
    named: tuple[str, str] | None = None,
) -> bool:
    """The ack in one statement (PostgreSQL) when it is in order; False when it is not, or on
    another database: ``ack_task`` then says why. The user may be ``named`` (auth method and
    username, as X-OASST-USER and a socket's ack name them): found inside the statement,
    enabled, and the task's user when the task has one, which spares a lookup of its own."""
    if not frontend_message_id or connection.vendor != "postgresql":
        return False
    auth_method, username = named if named is not None else (None, None)
    with connection.cursor() as cursor:
        cursor.execute(
            _ACK_IN_ONE_STATEMENT,
            {
                "task_id": task_id,
                "api_client_id": client_id,
                "user_id": user_id,
                "auth_method": auth_method,
                "username": username,
                "frontend_message_id": frontend_message_id,
                "now": now,
            },
        )
        acked = cursor.fetchone()
    if acked is None:
        return False
    tree_id, acked_user_id, kind, lang = acked
    journal.logged("task_acked", tree_id, None, acked_user_id)
    count_task(TASKS_ACKED, SimpleNamespace(payload_type=kind, payload={"lang": lang}))
    return True


@transaction.atomic
def _ack_checked(
    *,
    task_id: uuid.UUID,
    frontend_message_id: str,
    user: User | None,
    client_id: uuid.UUID,
    now: datetime,
) -> None:
    """``ack_task`` step by step under the task's lock: each refusal with its reason."""
    task = open_task_for_update(task_id, user, now, api_client_id=client_id)
    if task.ack is not None:
        raise TaskAlreadyAcked(f"task {task_id} was already acknowledged")
    if not frontend_message_id:
        raise TaskAlreadyAcked("an ack needs the frontend message id")
    bound_elsewhere = _OPEN_TASK_BOUND_ELSEWHERE.rows(
        {"api_client_id": client_id, "frontend_message_id": frontend_message_id, "task_id": task.id}
    )
    if bound_elsewhere:
        # Interactions find their task by this id: it must name one open task only.
        raise DuplicateFrontendMessageId(
            f"frontend message id {frontend_message_id!r} is bound to another open task"
        )
    # The frontend shows it: the slot stays reserved until the task expires.
    update(
        Task,
        task.id,
        {"ack": True, "frontend_message_id": frontend_message_id, "lease_until": task.expiry_date},
    )
    journal.record("task_acked", message_tree_id=task.message_tree_id, user_id=task.user_id)
    count_task(TASKS_ACKED, task)


# ``_ack_checked``'s checks and writes as one statement (PostgreSQL): the UPDATE re-reads the
# task under its row lock, as ``open_task_for_update`` does; no row when any check fails. The
# client is compared with IS NOT DISTINCT FROM (the column is never null) so that no index can
# take it for a condition: the task is found by its primary key under any plan (see
# ``_LOCKED_TASK``).
_ACK_IN_ONE_STATEMENT = """
WITH named AS (
    SELECT id FROM accounts_user
    WHERE api_client_id = %(api_client_id)s::uuid AND auth_method = %(auth_method)s::text
        AND username = %(username)s::text AND enabled AND NOT deleted
), acked AS (
    UPDATE trees_task SET ack = true, frontend_message_id = %(frontend_message_id)s,
        lease_until = expiry_date
    WHERE id = %(task_id)s::uuid
        AND api_client_id IS NOT DISTINCT FROM %(api_client_id)s::uuid
        AND (user_id IS NULL OR %(user_id)s::uuid IS NULL OR user_id = %(user_id)s::uuid)
        AND (%(username)s::text IS NULL OR (
            EXISTS (SELECT 1 FROM named)
            AND (user_id IS NULL OR user_id = (SELECT id FROM named))))
        AND ack IS NULL AND NOT done AND NOT skipped
        AND (expiry_date IS NULL OR expiry_date > %(now)s::timestamptz)
        AND NOT EXISTS (
            SELECT 1 FROM trees_task other
            WHERE other.api_client_id = %(api_client_id)s::uuid
                AND other.frontend_message_id = %(frontend_message_id)s
                AND NOT other.done AND NOT other.skipped AND other.id <> %(task_id)s::uuid
        )
    RETURNING message_tree_id, user_id, payload_type, payload->>'lang' AS lang
), journal AS (
    INSERT INTO trees_journalentry
        (event_type, payload, message_tree_id, message_id, user_id, api_client_id, actor,
         created_at)
    SELECT 'task_acked', '{}'::jsonb, message_tree_id, NULL, user_id, NULL, '',
        %(now)s::timestamptz
    FROM acked
)
SELECT message_tree_id, user_id, payload_type, lang FROM acked
"""


@transaction.atomic
def nack_task(
    *,
    task_id: uuid.UUID,
    reason: str = "",
    user: User | None = None,
    api_client: ApiClient | None = None,
    now: datetime | None = None,
) -> Task:
    """The user skips the task; its slot is freed and the node is never offered to them again."""
    client_id = api_client.id if api_client is not None else user.api_client_id
    task = open_task_for_update(task_id, user, now or timezone.now(), api_client_id=client_id)
    task.ack = False if task.ack is None else task.ack
    task.skipped = task.skipped_by_user = True
    task.skip_reason = (reason or "")[:512]
    task.save(update_fields=["ack", "skipped", "skipped_by_user", "skip_reason"])
    push_signals.task_closed(task)
    journal.record(
        "task_skipped",
        payload={"reason": task.skip_reason, "kind": task.payload_type},
        message_tree_id=task.message_tree_id,
        message_id=task.parent_message_id,
        user_id=task.user_id,
    )
    if task.payload_type in REPLY_KINDS and task.parent_message_id is not None:
        _count_skipped_reply(task)
    count_task(TASKS_SKIPPED, task)
    return task


@transaction.atomic
def close_task(*, frontend_message_id: str, api_client: ApiClient) -> Task:
    """OA ``/tasks/close``: mark the task bound to ``frontend_message_id`` done."""
    task = (
        Task.objects.select_for_update(no_key=True)
        .filter(api_client_id=api_client.id, frontend_message_id=frontend_message_id)
        .order_by("-created_at")
        .first()
    )
    if task is None:
        raise TaskNotFound(f"no task is bound to frontend message id {frontend_message_id!r}")
    if task.skipped:
        raise TaskAlreadyDone(f"task {task.id} was skipped")
    if not task.done:
        task.done = True
        task.save(update_fields=["done"])
        push_signals.task_closed(task)
        journal.record("task_closed", message_tree_id=task.message_tree_id, user_id=task.user_id)
    return task


_BOUND_TASK = CompiledQuery(
    lambda api_client_id, frontend_message_id: Task.objects.filter(
        api_client_id=api_client_id, frontend_message_id=frontend_message_id
    ).order_by("-created_at")[:1],
    sentinels={"api_client_id": SENTINEL_IDS[0], "frontend_message_id": "grove-frontend-id"},
)


def task_for_frontend_message(*, api_client_id: uuid.UUID, frontend_message_id: str) -> Task:
    """The task a frontend bound to ``frontend_message_id`` at ack time (newest first)."""
    found = _BOUND_TASK.fetch(
        {"api_client_id": api_client_id, "frontend_message_id": frontend_message_id}
    )
    task = found[0] if found else None
    if task is None:
        raise TaskNotFound(f"no task is bound to frontend message id {frontend_message_id!r}")
    return task


def _count_skipped_reply(task: Task) -> None:
    """OA's auto-moderation counts reply skips on the parent (``_skip_reply`` emoji)."""
    from backend.trees.services.trees import enqueue_advance

    parent = Message.objects.select_for_update(no_key=True).get(id=task.parent_message_id)
    emojis = dict(parent.emojis)
    emojis["_skip_reply"] = int(emojis.get("_skip_reply", 0)) + 1
    parent.emojis = emojis
    parent.save(update_fields=["emojis"])
    enqueue_advance(task.message_tree_id)
