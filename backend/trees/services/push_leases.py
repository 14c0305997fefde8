"""Pushed tasks that go back to the pool: not acknowledged in time, or their socket is gone.

A returned task is closed as skipped with the reason ``returned``
(``ready_work.RETURNED_SKIP_REASON``), which, like an expiry, is not the user's skip: the node
is not barred to them for good and no reply-skip is counted. Its slot is free at once (a
closed task holds no lease).
"""

from __future__ import annotations

import uuid

from django.db import transaction

from backend.fast_writes import update
from backend.observability.metrics import TASKS_RETURNED, count_task
from backend.push import signals as push_signals
from backend.trees import journal
from backend.trees.models import Task
from backend.trees.ready_work import RETURNED_SKIP_REASON


@transaction.atomic
def return_pushed_task(*, task_id: uuid.UUID | str, only_unacked: bool, why: str) -> bool:
    """Close the task as returned unless it was answered or closed meanwhile (or, with
    ``only_unacked``, acknowledged: the frontend shows it). True when it was returned."""
    task = Task.objects.select_for_update(no_key=True).filter(id=task_id).first()
    if task is None or task.done or task.skipped or (only_unacked and task.ack):
        return False
    task.skipped = True
    task.skip_reason = RETURNED_SKIP_REASON
    update(Task, task.id, {"skipped": True, "skip_reason": RETURNED_SKIP_REASON})
    journal.record(
        "task_returned",
        payload={"kind": task.payload_type, "why": why},
        message_tree_id=task.message_tree_id,
        message_id=task.parent_message_id,
        user_id=task.user_id,
        api_client_id=task.api_client_id,
    )
    push_signals.task_closed(task)
    count_task(TASKS_RETURNED, task)
    return True
