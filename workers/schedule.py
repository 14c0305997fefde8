"""Celery beat's schedule: the periodic jobs and their intervals (``GROVE_*_INTERVAL_SECONDS``,
defaults in backend/settings.py and .env.example). Run one beat process:
``celery -A workers beat``. Each job here is also a management command for manual runs."""

from __future__ import annotations

from django.conf import settings

STATS_TIME_FRAMES = ("day", "week", "month", "total")


def beat_schedule() -> dict[str, dict]:
    schedule: dict[str, dict] = {
        "expire-tasks": {
            "task": "grove.tree.expire_tasks",
            "schedule": float(settings.GROVE_EXPIRE_TASKS_INTERVAL_SECONDS),
        },
        "retry-scoring": {
            "task": "grove.tree.retry_scoring",
            "schedule": float(settings.GROVE_RETRY_SCORING_INTERVAL_SECONDS),
        },
        "run-lottery": {
            "task": "grove.tree.run_lottery",
            "schedule": float(settings.GROVE_LOTTERY_INTERVAL_SECONDS),
        },
        "top-up-rankings": {
            "task": "grove.tree.top_up_rankings",
            "schedule": float(settings.GROVE_LOTTERY_INTERVAL_SECONDS),
        },
        "advance-due-trees": {
            "task": "grove.tree.advance_due",
            "schedule": float(settings.GROVE_DUE_SWEEP_INTERVAL_SECONDS),
        },
        "return-push-leases": {
            "task": "grove.tree.return_push_leases",
            "schedule": float(settings.GROVE_PUSH_SWEEP_INTERVAL_SECONDS),
        },
        "sweep-trees": {
            "task": "grove.tree.sweep",
            "schedule": float(settings.GROVE_SWEEP_INTERVAL_SECONDS),
        },
        "report-queues": {
            "task": "grove.stats.report_queues",
            "schedule": float(settings.GROVE_QUEUE_REPORT_INTERVAL_SECONDS),
        },
        "console-snapshot": {
            "task": "grove.stats.console_snapshot",
            "schedule": float(settings.GROVE_CONSOLE_SNAPSHOT_INTERVAL_SECONDS),
        },
        "streaks": {
            "task": "grove.stats.streaks",
            "schedule": float(settings.GROVE_STREAKS_INTERVAL_SECONDS),
        },
        "reviewer-reliability": {
            "task": "grove.stats.reviewer_reliability",
            "schedule": float(settings.GROVE_RELIABILITY_INTERVAL_SECONDS),
        },
        "cached-stats": {
            "task": "grove.stats.cached_stats",
            "schedule": float(settings.GROVE_CACHED_STATS_INTERVAL_SECONDS),
        },
    }
    for frame in STATS_TIME_FRAMES:
        seconds = float(getattr(settings, f"GROVE_STATS_{frame.upper()}_INTERVAL_SECONDS"))
        for job in ("user_stats", "troll_stats"):
            schedule[f"{job.replace('_', '-')}-{frame}"] = {
                "task": f"grove.stats.{job}",
                "schedule": seconds,
                "args": (frame,),
            }
    # A periodic run that waits longer than its interval is superseded by the next one.
    for entry in schedule.values():
        entry["options"] = {"expires": entry["schedule"]}
    return schedule
