"""Periodic recomputation of leaderboards, troll boards, cached system stats and streaks.

Each function rebuilds its rows from the activity tables in one transaction and is safe to
run again at any time (same data, same result). They are the ``manage.py update_*`` commands
and what celery beat calls. The rules are Open-Assistant's (``user_stats_repository``,
``cached_stats_repository``, the streak job); Grove-specific choices are noted where made.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from backend.accounts.models import User
from backend.stats.cached_services import update_cached_stats
from backend.stats.models import TimeFrame, TrollStats, UserStats
from backend.stats.scoring import (
    LEADER_COUNT_FIELDS,
    base_date,
    leader_score,
    ranked,
    troll_score,
)
from backend.stats.streaks import update_streaks
from backend.stats.troll_queries import troll_counts
from backend.trees.core.task_kinds import LABEL_KINDS
from backend.trees.models import Message, MessageReaction, TextLabels

logger = logging.getLogger("grove.stats")

LABEL_KIND_NAMES = tuple(kind.value for kind in LABEL_KINDS)


def _since(rows, field: str, start: datetime | None):
    return rows.filter(**{f"{field}__gte": start}) if start is not None else rows


def leader_counts(start: datetime | None) -> dict[uuid.UUID, dict[str, int]]:
    """Per user: OA's UserStats counters for work done since ``start`` (None: all time)."""
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(LEADER_COUNT_FIELDS, 0)
    )
    messages = _since(Message.objects.filter(deleted=False), "created_at", start)

    prompts = messages.filter(parent__isnull=True).values("user_id")
    for row in prompts.annotate(n=Count("id")):
        counts[row["user_id"]]["prompts"] = row["n"]
    for row in prompts.filter(review_result=True).annotate(n=Count("id")):
        counts[row["user_id"]]["accepted_prompts"] = row["n"]

    replies = messages.filter(parent__isnull=False).values("user_id", "role")
    for row in replies.annotate(n=Count("id")):
        counts[row["user_id"]][f"replies_{row['role']}"] = row["n"]
    for row in replies.filter(review_result=True).annotate(n=Count("id")):
        counts[row["user_id"]][f"accepted_replies_{row['role']}"] = row["n"]

    # A label task's work is its TextLabels row; the task's payload says simple or full.
    labels = _since(
        TextLabels.objects.filter(task__isnull=False, task__payload_type__in=LABEL_KIND_NAMES),
        "created_at",
        start,
    )
    by_mode = labels.annotate(mode=KeyTextTransform("mode", "task__payload")).values(
        "user_id", "mode"
    )
    for row in by_mode.annotate(n=Count("id")):
        if row["mode"] in ("simple", "full"):
            counts[row["user_id"]][f"labels_{row['mode']}"] += row["n"]

    rankings = _since(
        MessageReaction.objects.filter(payload_type="RankingReactionPayload"), "created_at", start
    )
    for row in rankings.values("user_id").annotate(n=Count("id")):
        counts[row["user_id"]]["rankings_total"] = row["n"]

    # Grove counts the consensus rank written back on the message (rank 0 = best), where OA
    # counted positions in each single ranking.
    ranked_replies = messages.filter(rank__in=(0, 1, 2)).values("user_id", "rank")
    for row in ranked_replies.annotate(n=Count("id")):
        counts[row["user_id"]][f"reply_ranked_{row['rank'] + 1}"] = row["n"]
    return counts


def _leaderboard_users(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict]:
    return {
        row["id"]: row
        for row in User.objects.filter(id__in=list(user_ids)).values(
            "id", "enabled", "show_on_leaderboard", "streak_days", "streak_last_day_date"
        )
    }


@transaction.atomic
def recompute_user_stats(time_frame: str, *, now: datetime | None = None) -> int:
    """Rebuild the leaderboard of one time frame: counts, leader score and rank.

    Ranks go to enabled users shown on the leaderboard, by score then user id (OA's
    ``update_leader_ranks``); other users keep their stats with no rank. Returns the rows.
    """
    time_frame = TimeFrame(time_frame)
    now = now or timezone.now()
    start = base_date(time_frame, now)
    counts = leader_counts(start)
    users = _leaderboard_users(counts)
    rows = []
    for user_id, values in counts.items():
        if user_id not in users:
            continue
        row = UserStats(user_id=user_id, time_frame=time_frame, base_date=start, **values)
        row.leader_score = leader_score(values)
        if time_frame is TimeFrame.TOTAL:
            row.streak_days = users[user_id]["streak_days"]
            row.streak_last_day_date = users[user_id]["streak_last_day_date"]
        rows.append(row)
    eligible = [
        r for r in rows if users[r.user_id]["enabled"] and users[r.user_id]["show_on_leaderboard"]
    ]
    for rank, row in ranked(eligible, score=lambda r: r.leader_score):
        row.rank = rank
    UserStats.objects.filter(time_frame=time_frame).delete()
    UserStats.objects.bulk_create(rows, batch_size=1000)
    logger.info("event=user_stats_updated time_frame=%s rows=%d", time_frame.value, len(rows))
    return len(rows)


@transaction.atomic
def recompute_troll_stats(time_frame: str, *, now: datetime | None = None) -> int:
    """Rebuild the troll board of one time frame (OA ``_update_troll_stats_internal``): every
    user with counted signals gets a row, ranked by troll score then user id."""
    time_frame = TimeFrame(time_frame)
    now = now or timezone.now()
    start = base_date(time_frame, now)
    counts = troll_counts(start)
    known = set(User.objects.filter(id__in=list(counts)).values_list("id", flat=True))
    rows = []
    for user_id, values in counts.items():
        if user_id in known:
            row = TrollStats(user_id=user_id, time_frame=time_frame, base_date=start, **values)
            row.troll_score = troll_score(values)
            rows.append(row)
    for rank, row in ranked(rows, score=lambda r: r.troll_score):
        row.rank = rank
    TrollStats.objects.filter(time_frame=time_frame).delete()
    TrollStats.objects.bulk_create(rows, batch_size=1000)
    logger.info("event=troll_stats_updated time_frame=%s rows=%d", time_frame.value, len(rows))
    return len(rows)


def recompute_all_user_stats(*, now: datetime | None = None) -> None:
    """Every time frame's leaderboard and troll board (each in its own transaction)."""
    for time_frame in TimeFrame:
        recompute_user_stats(time_frame.value, now=now)
        recompute_troll_stats(time_frame.value, now=now)


# Every stats job is reachable from this module (commands, celery beat).
__all__ = [
    "recompute_all_user_stats",
    "recompute_troll_stats",
    "recompute_user_stats",
    "update_cached_stats",
    "update_streaks",
]
