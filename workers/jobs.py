"""Celery jobs: thin — they take ids (or plain values), call one service, and are safe to run
twice. A job's queue follows from its name (``grove.<queue>.<verb>``, see workers/celery.py);
its retry policy is declared here, next to it. The time limits are
``GROVE_JOB_TIME_LIMIT_SECONDS`` / ``GROVE_JOB_SOFT_TIME_LIMIT_SECONDS`` unless set here.

Acknowledgement: the advance job, a follow-up of a committed change, is acknowledged late, so
a worker that dies with it lets it be delivered again (at once when only the pool child dies,
``CELERY_TASK_REJECT_ON_WORKER_LOST``; after the broker's visibility timeout when the whole
worker dies). Its hard time limit stays below that timeout (settings), or a job still running
would be delivered twice. Periodic jobs and exports run for minutes, longer than the timeout:
they are acknowledged on receipt; a run lost with its worker is the next beat run's to do (an
export is requested again).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from celery import shared_task
from django.conf import settings

from backend.stats import services as stats_services
from backend.trees.errors import TreeEngineError, TreeNotFound

# Bounded retries with exponential backoff (1, 2, 4 ... seconds, at most a minute), for the
# transient failures of a database or broker; domain errors are final and never retried.
RETRY_POLICY = {
    "autoretry_for": (Exception,),
    "dont_autoretry_for": (TreeEngineError, ValueError, ImportError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}
EXPORT_TIME_LIMIT_SECONDS = 60 * 60


# --- tree -------------------------------------------------------------------------------------
# Redelivered after the visibility timeout if its worker dies: every attempt (time limit) and
# every retry's wait (a retry's message is held unacknowledged until its time) stays below it.
FOLLOW_UP_POLICY = {
    **RETRY_POLICY,
    "acks_late": True,
    "retry_backoff_max": 15,
    "dont_autoretry_for": (TreeNotFound,),
    "time_limit": settings.GROVE_TREE_JOB_TIME_LIMIT_SECONDS,
    "soft_time_limit": max(1, settings.GROVE_TREE_JOB_TIME_LIMIT_SECONDS - 5),
}


@shared_task(name="grove.tree.advance", **FOLLOW_UP_POLICY)
def advance_tree_job(tree_id: str) -> list[str]:
    """Re-evaluate one tree after an interaction (idempotent: a second run changes nothing)."""
    from backend.trees.services.trees import advance_tree

    return advance_tree(tree_id=uuid.UUID(tree_id))


@shared_task(name="grove.tree.advance_due", **{**RETRY_POLICY, "max_retries": 1})
def advance_due_trees_job() -> int:
    """Advance the trees owed an advance for more than a few seconds (periodic, every
    ``GROVE_DUE_SWEEP_INTERVAL_SECONDS``): the follow-ups a broker outage or a lost worker
    left behind."""
    from backend.trees.services.maintenance import advance_due_trees

    return advance_due_trees()


@shared_task(name="grove.tree.expire_tasks", **{**RETRY_POLICY, "max_retries": 2})
def expire_tasks_job() -> int:
    """Close the tasks whose expiry date has passed (periodic; next run catches up)."""
    from backend.trees.services.maintenance import expire_tasks

    return expire_tasks()


@shared_task(name="grove.tree.return_push_leases", **{**RETRY_POLICY, "max_retries": 1})
def return_push_leases_job() -> dict[str, int]:
    """Return pushed tasks whose ack deadline passed and the tasks of push sessions whose
    socket is gone (periodic; the web processes with push sockets do it every tick too)."""
    from dataclasses import asdict

    from backend.push.leases import sweep

    return asdict(sweep())


@shared_task(name="grove.tree.retry_scoring", **{**RETRY_POLICY, "max_retries": 2})
def retry_scoring_job() -> dict[str, list[str]]:
    """Score again every tree in ``scoring_failed``."""
    from backend.trees.services.maintenance import retry_failed_scoring

    report = retry_failed_scoring(actor="celery")
    return {
        "retried": [str(i) for i in report.retried],
        "failed_again": [str(i) for i in report.failed_again],
    }


@shared_task(name="grove.tree.run_lottery", **{**RETRY_POLICY, "max_retries": 2})
def run_lottery_job() -> dict[str, int]:
    """Activate waiting prompts in every language with free growing slots."""
    from backend.trees.services.maintenance import run_lotteries

    return run_lotteries()


@shared_task(name="grove.tree.top_up_rankings", **{**RETRY_POLICY, "max_retries": 2})
def top_up_rankings_job() -> dict[str, int]:
    """Activate backlog trees where a language ranks fewer than min_active_rankings_per_lang."""
    from backend.trees.services.maintenance import top_up_all_rankings

    return top_up_all_rankings()


@shared_task(name="grove.tree.sweep", **{**RETRY_POLICY, "max_retries": 2})
def sweep_trees_job() -> int:
    """Advance every tree that could move and rebuild the ready-work index (consistency)."""
    from backend.trees.services.maintenance import sweep_trees

    return sweep_trees()


@shared_task(name="grove.stats.report_queues", **{**RETRY_POLICY, "max_retries": 1})
def report_queues_job() -> dict:
    """Push the broker's queue depths to admin sockets (``ws/admin/``)."""
    from backend import events
    from workers.monitoring import queue_depths

    depths = queue_depths()
    report = {"waiting": depths.waiting, "unacked": depths.unacked}
    events.publish("queue_depths", report, admin=True)
    return report


@shared_task(name="grove.stats.console_snapshot", **{**RETRY_POLICY, "max_retries": 1})
def console_snapshot_job() -> int:
    """One per-minute snapshot for the console's charts."""
    from backend.console.services import take_snapshot

    return take_snapshot().pk


# --- stats ------------------------------------------------------------------------------------
@shared_task(name="grove.stats.user_stats", **{**RETRY_POLICY, "max_retries": 2})
def user_stats_job(time_frame: str) -> int:
    """Recompute the leaderboard of one time frame (day, week, month, total)."""
    return stats_services.recompute_user_stats(time_frame=time_frame)


@shared_task(name="grove.stats.troll_stats", **{**RETRY_POLICY, "max_retries": 2})
def troll_stats_job(time_frame: str) -> int:
    """Recompute the troll board of one time frame."""
    return stats_services.recompute_troll_stats(time_frame=time_frame)


@shared_task(name="grove.stats.reviewer_reliability", **{**RETRY_POLICY, "max_retries": 1})
def reviewer_reliability_job() -> int:
    """Re-estimate every reviewer's skill (the sequential review policy's vote weights)."""
    from backend.trees.services.reliability import estimate_reviewer_reliability

    return estimate_reviewer_reliability().reviewers


@shared_task(name="grove.stats.cached_stats", **{**RETRY_POLICY, "max_retries": 2})
def cached_stats_job() -> object:
    """Refresh the cached system statistics."""
    return stats_services.update_cached_stats()


@shared_task(name="grove.stats.streaks", **{**RETRY_POLICY, "max_retries": 2})
def streaks_job() -> object:
    """Reset the streaks of users idle for more than a day, extend the others (OA)."""
    return stats_services.update_streaks()


# --- export -----------------------------------------------------------------------------------
@shared_task(
    name="grove.export.trees",
    bind=True,
    **{**RETRY_POLICY, "max_retries": 2},
    soft_time_limit=EXPORT_TIME_LIMIT_SECONDS,
    time_limit=EXPORT_TIME_LIMIT_SECONDS + 60,
)
def export_trees_job(self, filters: dict | None = None, filename: str | None = None) -> str:
    """Export trees (``ExportFilter`` fields; dates as ISO strings) to a file under
    ``GROVE_EXPORT_DIR``; returns its path. A retry rewrites the same file, and the file
    appears only once complete (written aside, then renamed)."""
    from backend.trees.export import export_filter_from_dict, export_to_path

    name = Path(filename or f"trees-{self.request.id or uuid.uuid4()}.jsonl").name
    path = Path(settings.GROVE_EXPORT_DIR) / name
    export_to_path(path=path, filters=export_filter_from_dict(filters or {}))
    return os.fspath(path)
