"""What the console shows, read from PostgreSQL and Redis: bounded, grouped queries only.

Every function returns plain JSON-ready values (the console's websocket sends them as they
are). Figures that describe one web process (request latency) are in ``latency``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
from django.db.models import Count, Max, Sum
from django.utils import timezone

from backend.console.models import ConsoleSnapshot
from backend.trees.core.lifecycle import TreeState
from backend.trees.core.task_kinds import CATEGORY_OF
from backend.trees.models import JournalEntry, MessageTree, ReadyWork, TreeGrowthConfig

logger = logging.getLogger("grove.console")

# The funnel's columns, in the order a tree passes them (OA's states; the last three are ends
# or detours).
FUNNEL_STATES: tuple[TreeState, ...] = (
    TreeState.INITIAL_PROMPT_REVIEW,
    TreeState.PROMPT_LOTTERY_WAITING,
    TreeState.BACKLOG_RANKING,
    TreeState.GROWING,
    TreeState.RANKING,
    TreeState.READY_FOR_SCORING,
    TreeState.READY_FOR_EXPORT,
    TreeState.SCORING_FAILED,
    TreeState.ABORTED_LOW_GRADE,
    TreeState.HALTED_BY_MODERATOR,
)
# One per task handed out or closed: thousands a minute, counted in the rates and left out of
# the "recent events" list, which is for state changes an admin reads.
TASK_EVENTS = (
    "task_created",
    "task_acked",
    "task_closed",
    "task_skipped",
    "task_expired",
    "task_returned",
)
TASK_RATE_WINDOW_SECONDS = 60
RECENT_EVENTS = 25
# "Recent events" looks at most this many journal rows back, so that a flood of task events
# never turns it into a scan of the journal.
RECENT_EVENTS_SCAN_ROWS = 20_000
FAILED_JOBS_WINDOW = timedelta(hours=1)


def tree_funnel() -> dict[str, dict[str, int]]:
    """Trees per language and state: ``{lang: {state: n}}`` (one grouped index scan)."""
    funnel: dict[str, dict[str, int]] = {}
    rows = MessageTree.objects.values_list("lang", "state").annotate(n=Count("id")).order_by()
    for lang, state, count in rows:
        funnel.setdefault(lang, {})[state] = count
    return funnel


def ready_work_slots() -> dict[str, int]:
    """Open task slots per language in the ready-work index (leases not subtracted)."""
    rows = ReadyWork.objects.values_list("lang").annotate(n=Sum("slots")).order_by()
    return {lang: slots or 0 for lang, slots in rows}


def ready_work_by_category() -> dict[str, dict[str, int]]:
    """Open task slots per language and OA task category (``TaskCategory``: prompt, reply,
    label_prompt, label_reply, ranking), from one grouped read of the ready-work index: where
    work piles up and what a language lacks."""
    by_lang: dict[str, dict[str, int]] = {}
    rows = ReadyWork.objects.values_list("lang", "kind").annotate(n=Sum("slots")).order_by()
    for lang, kind, slots in rows:
        if not slots:
            continue
        category = str(CATEGORY_OF.get(kind, kind))  # an unknown kind stands for itself
        work = by_lang.setdefault(lang, {})
        work[category] = work.get(category, 0) + slots
    return by_lang


def volunteers_ready() -> dict[str, int] | None:
    """Users waiting in push dispatch's line, per language: ``{}`` without a push Redis (the
    embedded profile has no line), None when Redis does not answer."""
    from backend.push import keys, signals

    client = signals.redis_client()
    if client is None:
        return {}
    try:
        langs = sorted(member.decode() for member in client.smembers(keys.LANGS))
        pipe = client.pipeline()
        for lang in langs:
            pipe.zcard(keys.ready(lang))
        counts = pipe.execute()
    except redis.RedisError:
        logger.warning("event=console_push_line_unreadable")
        return None
    return {lang: count for lang, count in zip(langs, counts, strict=True) if count}


def work_and_volunteers(
    slots: dict[str, int],
    ready: dict[str, int] | None,
    langs: set[str],
    by_category: dict[str, dict[str, int]] | None = None,
) -> list[dict]:
    """One row per language: open slots (and ``work``, the slots by task category), volunteers
    waiting, and ``starving`` when people wait and no slot is open (the language an admin must
    look at first); starving first."""
    rows = []
    for lang in sorted(langs | set(slots) | set(ready or {})):
        waiting = None if ready is None else ready.get(lang, 0)
        open_slots = slots.get(lang, 0)
        rows.append(
            {
                "lang": lang,
                "slots": open_slots,
                "work": (by_category or {}).get(lang, {}),
                "volunteers_ready": waiting,
                "starving": bool(waiting) and open_slots == 0,
            }
        )
    rows.sort(key=lambda row: (not row["starving"], row["lang"]))
    return rows


def with_rest_figures(
    rows: list[dict], unserved: dict[str, int], rest_active: dict[str, int] | None
) -> list[dict]:
    """``rows`` of ``work_and_volunteers`` with the REST side of each language: ``unserved``,
    task requests answered "no task available" (last minute), and ``rest_active``, distinct
    users who asked for a task over REST (last five minutes; None when unknown). Volunteers
    of either kind in a language with no open slot make it starving."""
    by_lang = {row["lang"]: dict(row) for row in rows}
    for lang in {*unserved, *(rest_active or {})}:
        by_lang.setdefault(
            lang, {"lang": lang, "slots": 0, "work": {}, "volunteers_ready": 0, "starving": False}
        )
    for lang, row in by_lang.items():
        row["unserved"] = unserved.get(lang, 0)
        row["rest_active"] = None if rest_active is None else rest_active.get(lang, 0)
        asking = row["unserved"] > 0 or bool(row["rest_active"])
        row["starving"] = row["starving"] or (asking and row["slots"] == 0)
    return sorted(by_lang.values(), key=lambda row: (not row["starving"], row["lang"]))


def request_figures(now: datetime) -> dict:
    """The deployment's task-request latency, "no task" answers and REST volunteers
    (``deployment.read_figures``); each None without a cache Redis or while it is down."""
    from backend.console import deployment

    client = deployment.redis_client()
    if client is not None:
        try:
            return deployment.read_figures(client, now=now.timestamp())
        except redis.RedisError:
            logger.warning("event=console_figures_unreadable")
    return {"latency": None, "unserved": None, "rest_active": None}


def tasks_created_by_kind(since: datetime, until: datetime | None = None) -> dict[str, int]:
    """Tasks handed out per kind in [since, until), from the journal's ``task_created``
    entries (index ``journal_event``: event type, time)."""
    rows = JournalEntry.objects.filter(event_type="task_created", created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    counted = rows.values_list("payload__kind").annotate(n=Count("id")).order_by()
    return {kind or "unknown": count for kind, count in counted}


def recent_events(limit: int = RECENT_EVENTS) -> list[dict]:
    """The newest journal entries other than per-task ones, newest first."""
    newest = JournalEntry.objects.aggregate(top=Max("id"))["top"] or 0
    rows = (
        JournalEntry.objects.filter(id__gt=newest - RECENT_EVENTS_SCAN_ROWS)
        .exclude(event_type__in=TASK_EVENTS)
        .order_by("-id")[:limit]
    )
    return [journal_row(entry) for entry in rows]


def journal_row(entry: JournalEntry) -> dict:
    return {
        "id": entry.id,
        "at": entry.created_at.isoformat(),
        "event": entry.event_type,
        "tree_id": str(entry.message_tree_id) if entry.message_tree_id else None,
        "message_id": str(entry.message_id) if entry.message_id else None,
        "actor": entry.actor,
        "payload": entry.payload,
    }


def queues() -> dict:
    """Jobs waiting per broker queue and delivered-but-unacked; ``{"mode": "eager"}`` when
    jobs run in the process that sends them, ``{"error": ...}`` when the broker is down."""
    from workers.celery import app
    from workers.monitoring import queue_depths

    if app.conf.task_always_eager:
        return {"mode": "eager"}
    try:
        depths = queue_depths()
    except Exception as exc:  # the broker down must not take the console with it
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"waiting": depths.waiting, "unacked": depths.unacked}


def failed_jobs(now: datetime, limit: int = 5) -> dict:
    """Jobs that failed for good (``job_failed`` journal entries): the last hour's count and
    the newest few (``maintenance.recent_job_failures``: by time, through the journal's
    (event type, time) index)."""
    from backend.trees.services.maintenance import JOB_FAILED, recent_job_failures

    last_hour = JournalEntry.objects.filter(
        event_type=JOB_FAILED, created_at__gte=now - FAILED_JOBS_WINDOW
    )
    return {
        "last_hour": last_hour.count(),
        "recent": [
            {
                "at": failure["created_at"].isoformat(),
                "job": failure.get("job"),
                "exception": failure.get("exception"),
            }
            for failure in recent_job_failures(limit=limit)
        ],
    }


def overview(now: datetime | None = None) -> dict:
    """Everything the console's live panels show, except this process's latency."""
    now = now or timezone.now()
    funnel = tree_funnel()
    by_category = ready_work_by_category()
    active = TreeGrowthConfig.objects.filter(is_active=True).values_list("version", flat=True)
    return {
        "at": now.isoformat(),
        "states": [state.value for state in FUNNEL_STATES],
        "funnel": funnel,
        "work": work_and_volunteers(
            {lang: sum(work.values()) for lang, work in by_category.items()},
            volunteers_ready(),
            set(funnel),
            by_category,
        ),
        "tasks_per_minute": tasks_created_by_kind(
            now - timedelta(seconds=TASK_RATE_WINDOW_SECONDS)
        ),
        "queues": queues(),
        "failed_jobs": failed_jobs(now),
        "events": recent_events(),
        "config_version": active.first() or 0,
    }


def config_markers(since: datetime) -> list[dict]:
    """When each configuration version became active (its row's creation: versions are
    never edited), for versions activated since ``since``."""
    rows = TreeGrowthConfig.objects.filter(created_at__gte=since).order_by("version")
    return [
        {
            "version": row.version,
            "at": row.created_at.isoformat(),
            "by": row.created_by,
            "comment": row.comment,
        }
        for row in rows
    ]


MAX_SERIES_HOURS = 7 * 24


def chart_series(*, hours: int, now: datetime | None = None) -> dict:
    """The snapshots of the last ``hours`` (at most a week) and the config markers in them."""
    if not 1 <= hours <= MAX_SERIES_HOURS:
        raise ValueError(f"hours must be between 1 and {MAX_SERIES_HOURS}")
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    snapshots = ConsoleSnapshot.objects.filter(taken_at__gte=since).order_by("taken_at")
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "snapshots": [
            {"at": snapshot.taken_at.isoformat(), **snapshot.figures} for snapshot in snapshots
        ],
        "config_versions": config_markers(since),
    }
