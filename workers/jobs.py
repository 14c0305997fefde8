"""Celery jobs: thin — they take ids (or plain values), call one service, and are safe to run
twice. A job's queue follows from its name (``grove.<queue>.<verb>``, see workers/celery.py);
its retry policy is declared here, next to it. Every job is ``acks_late`` and its message is
re-queued when the worker dies (``CELERY_TASK_REJECT_ON_WORKER_LOST``); the time limits are
``GROVE_JOB_TIME_LIMIT_SECONDS`` / ``GROVE_JOB_SOFT_TIME_LIMIT_SECONDS`` unless set here.
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
    "acks_late": True,
    "autoretry_for": (Exception,),
    "dont_autoretry_for": (TreeEngineError, ValueError, ImportError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}
EXPORT_TIME_LIMIT_SECONDS = 60 * 60


# --- tree -------------------------------------------------------------------------------------
@shared_task(name="grove.tree.advance", **{**RETRY_POLICY, "dont_autoretry_for": (TreeNotFound,)})
def advance_tree_job(tree_id: str) -> list[str]:
    """Re-evaluate one tree after an interaction (idempotent: a second run changes nothing)."""
    from backend.trees.services.trees import advance_tree

    return advance_tree(tree_id=uuid.UUID(tree_id))


@shared_task(name="grove.tree.expire_tasks", **{**RETRY_POLICY, "max_retries": 2})
def expire_tasks_job() -> int:
    """Close the tasks whose expiry date has passed (periodic; next run catches up)."""
    from backend.trees.services.maintenance import expire_tasks

    return expire_tasks()


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


# --- stats ------------------------------------------------------------------------------------
@shared_task(name="grove.stats.user_stats", **{**RETRY_POLICY, "max_retries": 2})
def user_stats_job(time_frame: str) -> int:
    """Recompute the leaderboard of one time frame (day, week, month, total)."""
    return stats_services.recompute_user_stats(time_frame=time_frame)


@shared_task(name="grove.stats.troll_stats", **{**RETRY_POLICY, "max_retries": 2})
def troll_stats_job(time_frame: str) -> int:
    """Recompute the troll board of one time frame."""
    return stats_services.recompute_troll_stats(time_frame=time_frame)


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
