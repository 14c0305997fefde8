"""Periodic upkeep of the tree engine: expire tasks, retry failed scoring, run the lotteries.

Each function is safe to run at any time and any number of times (celery beat, or by hand
as ``manage.py expire_tasks`` / ``retry_scoring`` / ``run_lottery``): a second run finds
nothing left to do and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from backend import events
from backend.observability.metrics import TASKS_EXPIRED, count_task
from backend.push import signals as push_signals
from backend.trees import journal, ready_work
from backend.trees.core.lifecycle import TreeState
from backend.trees.errors import TreeNotFound
from backend.trees.growth_config import active_config
from backend.trees.models import JournalEntry, MessageTree, PendingAdvance, Task
from backend.trees.ready_work import EXPIRED_SKIP_REASON
from backend.trees.services.trees import (
    advance_tree,
    retry_scoring,
    run_prompt_lottery,
    top_up_rankings,
)

logger = logging.getLogger("grove.trees.maintenance")
EXPIRE_BATCH_SIZE = 500


@transaction.atomic
def _expire_batch(now: datetime) -> list[Task]:
    batch = list(
        Task.objects.select_for_update(skip_locked=True, no_key=True)
        .filter(done=False, skipped=False, expiry_date__lte=now)
        .order_by("expiry_date")[:EXPIRE_BATCH_SIZE]
    )
    for task in batch:
        task.skipped = True
        task.skip_reason = EXPIRED_SKIP_REASON
        task.save(update_fields=["skipped", "skip_reason"])
        # Not OA's reply-skip counter (``_skip_reply``): an expiry is not a user's judgement.
        journal.record(
            "task_expired",
            payload={"kind": task.payload_type, "expiry_date": task.expiry_date.isoformat()},
            message_tree_id=task.message_tree_id,
            message_id=task.parent_message_id,
            user_id=task.user_id,
            api_client_id=task.api_client_id,
        )
        events.publish_to_assignee("task_expired", task)
        push_signals.task_closed(task)
        count_task(TASKS_EXPIRED, task)
    return batch


def expire_tasks(*, now: datetime | None = None) -> int:
    """Close every open task whose ``expiry_date`` has passed: ``skipped`` with the reason
    ``"expired"``, one ``task_expired`` journal entry each. Returns how many were closed.

    Expired tasks already stop reserving their node (their lease ended first); closing them
    keeps the table honest and lets the frontends' stale task ids fail as "already closed".
    Batches of ``EXPIRE_BATCH_SIZE`` rows, one transaction each, so a large backlog never
    holds long locks; rows locked by a concurrent ack or reply are left for the next run.
    """
    now = now or timezone.now()
    total = 0
    while True:
        batch = _expire_batch(now)
        total += len(batch)
        if len(batch) < EXPIRE_BATCH_SIZE:
            break
    if total:
        logger.info("event=tasks_expired count=%s", total)
    return total


@dataclass
class RetryReport:
    retried: list[uuid.UUID] = field(default_factory=list)
    failed_again: list[uuid.UUID] = field(default_factory=list)


def retry_failed_scoring(*, actor: str = "maintenance") -> RetryReport:
    """``retry_scoring`` every tree in ``scoring_failed`` (one transaction per tree)."""
    report = RetryReport()
    tree_ids = MessageTree.objects.filter(state=TreeState.SCORING_FAILED).values_list(
        "id", flat=True
    )
    for tree_id in list(tree_ids):
        entered = retry_scoring(tree_id=tree_id, actor=actor)
        if not entered:
            continue  # another run got there first
        (report.failed_again if entered[-1] == TreeState.SCORING_FAILED else report.retried).append(
            tree_id
        )
    return report


def languages_with_waiting_trees() -> list[str]:
    return sorted(
        MessageTree.objects.filter(state=TreeState.PROMPT_LOTTERY_WAITING)
        .values_list("lang", flat=True)
        .distinct()
    )


def run_lotteries() -> dict[str, int]:
    """``run_prompt_lottery`` for every language with waiting prompts, drawn again until every
    free slot is filled (each draw its own transaction): lang -> trees activated.

    The lottery also runs when a tree changes state; this sweep wakes languages where nothing
    happened since a slot freed up."""
    activated = {}
    for lang in languages_with_waiting_trees():
        total = 0
        while drawn := run_prompt_lottery(lang=lang):
            total += drawn
        activated[lang] = total
    return activated


def top_up_all_rankings() -> dict[str, int]:
    """``top_up_rankings`` for every language with backlog trees: lang -> trees activated."""
    langs = (
        MessageTree.objects.filter(state=TreeState.BACKLOG_RANKING)
        .values_list("lang", flat=True)
        .distinct()
    )
    return {lang: top_up_rankings(lang=lang) for lang in langs}


# Trees whose state can still move by itself (advance_tree decides them).
SWEPT_STATES = (
    TreeState.INITIAL_PROMPT_REVIEW,
    TreeState.GROWING,
    TreeState.RANKING,
    TreeState.READY_FOR_SCORING,
)


def sweep_trees() -> int:
    """The consistency sweep: advance every tree that could move, then rebuild the ready-work
    index from the trees and run the lotteries. Returns how many trees changed state.

    Transitions are otherwise evaluated only after an event on the tree, so a lost or failed
    advance job, or a configuration change (fewer required reviews or rankings), would leave a
    tree stranded for good (finding R1). Each tree is its own transaction; safe at any time.
    """
    moved = 0
    ids = MessageTree.objects.filter(state__in=SWEPT_STATES).values_list("id", flat=True)
    for tree_id in list(ids):
        try:
            moved += bool(advance_tree(tree_id=tree_id))
        except TreeNotFound:
            continue  # deleted meanwhile
    with transaction.atomic():
        rows = ready_work.rebuild(active_config())
    run_lotteries()
    logger.info("event=trees_swept moved=%s ready_work_rows=%s", moved, rows)
    return moved


def enqueue_sweep() -> None:
    """Run ``sweep_trees`` in a worker once the current transaction commits (best-effort:
    when the broker is down, the periodic sweep does it later)."""
    from workers.jobs import sweep_trees_job
    from workers.sending import send_job

    transaction.on_commit(lambda: send_job(sweep_trees_job))


# An advance job normally runs well within this; older debts were not sent, or were lost.
DUE_AFTER_SECONDS = 5
DUE_BATCH_SIZE = 500


def advance_due_trees(*, older_than_seconds: float = DUE_AFTER_SECONDS) -> int:
    """Run ``advance_tree`` on every tree owed an advance (``PendingAdvance``) for more than
    ``older_than_seconds``: the follow-ups whose job was never sent (broker down at commit)
    or was lost with its worker. Returns how many trees were advanced.

    Each tree is its own transaction; one that fails is logged and keeps its row, so the next
    run tries it again. Batches of ``DUE_BATCH_SIZE`` trees, the oldest debts first.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    due = (
        PendingAdvance.objects.filter(created_at__lte=cutoff)
        .values("tree_id")
        .annotate(since=Min("created_at"))
        .order_by("since")
        .values_list("tree_id", flat=True)[:DUE_BATCH_SIZE]
    )
    advanced = 0
    for tree_id in list(due):
        try:
            advance_tree(tree_id=tree_id)
        except TreeNotFound:
            continue  # deleted meanwhile; its rows went with it
        except Exception:
            logger.exception("event=due_advance_failed tree=%s", tree_id)
            continue
        advanced += 1
    if advanced:
        logger.info("event=due_trees_advanced count=%s", advanced)
    return advanced


JOB_FAILED = "job_failed"


@transaction.atomic
def record_job_failure(
    *, job: str, job_id: str, args: object, kwargs: object, exception: BaseException
) -> None:
    """Journal a Celery job that failed for good (after its retries): ``queue_status`` shows
    the newest ones."""
    journal.record(
        JOB_FAILED,
        payload={
            "job": job,
            "job_id": job_id,
            "args": repr(args)[:1000],
            "kwargs": repr(kwargs)[:1000],
            "exception": f"{type(exception).__name__}: {exception}"[:2000],
        },
        actor="celery",
    )
    events.publish("job_failed", {"job": job, "job_id": job_id}, admin=True)


def recent_job_failures(*, limit: int = 10) -> list[dict]:
    """The ``limit`` newest ``job_failed`` entries, newest first (payload and time).

    By time, through the journal's (event type, time) index: ordered by id, PostgreSQL walks
    the whole journal backwards from its newest row looking for the few failures among
    millions of task events, and an id says when a row was inserted, not when it happened."""
    rows = JournalEntry.objects.filter(event_type=JOB_FAILED).order_by("-created_at", "-id")[:limit]
    return [{"created_at": r.created_at, **r.payload} for r in rows]
