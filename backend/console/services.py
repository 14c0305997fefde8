"""The console's one write: a per-minute snapshot for its charts (beat's
``grove.stats.console_snapshot``, or ``manage.py take_console_snapshot``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.console import selectors
from backend.console.models import ConsoleSnapshot

# A snapshot's task counts cover the time since the previous one, but never more than this
# (after beat was down for a day, the first snapshot counts ten minutes, not a day).
MAX_TASK_SPAN_SECONDS = 600


@transaction.atomic
def take_snapshot(*, now: datetime | None = None) -> ConsoleSnapshot:
    """Record the trees per language and state, ready work, volunteers waiting, the tasks
    handed out since the previous snapshot, and the deployment's task-request latency and REST
    volunteers; delete snapshots older than GROVE_CONSOLE_SNAPSHOT_RETENTION_DAYS."""
    now = now or timezone.now()
    previous = ConsoleSnapshot.objects.filter(taken_at__lt=now).order_by("-taken_at").first()
    since = now - timedelta(seconds=MAX_TASK_SPAN_SECONDS)
    if previous is not None and previous.taken_at > since:
        since = previous.taken_at
    figures = {
        "trees": selectors.tree_funnel(),
        "ready_work": selectors.ready_work_slots(),
        "volunteers_ready": selectors.volunteers_ready(),
        "tasks": selectors.tasks_created_by_kind(since, now),
        "seconds": round((now - since).total_seconds(), 3),
        **selectors.request_figures(now),
    }
    snapshot = ConsoleSnapshot.objects.create(taken_at=now, figures=figures)
    retention = timedelta(days=settings.GROVE_CONSOLE_SNAPSHOT_RETENTION_DAYS)
    ConsoleSnapshot.objects.filter(taken_at__lt=now - retention).delete()
    return snapshot
