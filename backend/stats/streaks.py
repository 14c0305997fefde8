"""Activity streaks: consecutive days on which a user did some work.

OA stamps ``last_activity_date`` on each completed task and extends the streak there, and a
periodic job resets the streak of everyone idle for more than a day. Grove's periodic job
does both: it first takes the newest work from the activity tables (messages, labels,
rankings), so the streak is right even when no request path stamped the activity.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from backend.accounts.models import User
from backend.trees.models import Message, MessageReaction, TextLabels

logger = logging.getLogger("grove.stats")

STREAK_GAP = timedelta(days=1)  # idle longer than this and the streak starts over
RECENT_WORK_WINDOW = timedelta(days=2)  # work older than this cannot change a streak


def _recent_work(since: datetime) -> dict:
    newest: dict = {}
    for model in (Message, TextLabels, MessageReaction):
        rows = (
            model.objects.filter(created_at__gte=since)
            .values("user_id")
            .annotate(last=Max("created_at"))
        )
        for row in rows:
            if row["user_id"] not in newest or row["last"] > newest[row["user_id"]]:
                newest[row["user_id"]] = row["last"]
    return newest


@transaction.atomic
def update_streaks(*, now: datetime | None = None) -> dict[str, int]:
    """Refresh last activity, reset idle streaks, extend active ones. Safe to repeat."""
    now = now or timezone.now()
    touched = 0
    for user_id, last in _recent_work(now - RECENT_WORK_WINDOW).items():
        touched += (
            User.objects.filter(id=user_id)
            .filter(Q(last_activity_date__isnull=True) | Q(last_activity_date__lt=last))
            .update(last_activity_date=last)
        )
    # OA's reset: idle for over a day, never active, or no streak yet → 0 days from now.
    reset = User.objects.filter(
        Q(last_activity_date__isnull=True)
        | Q(last_activity_date__lt=now - STREAK_GAP)
        | Q(streak_days__isnull=True)
    ).update(streak_days=0, streak_last_day_date=now)
    # OA's extension on activity: whole days between the streak's start and the last work.
    extended = 0
    active = User.objects.filter(
        last_activity_date__gte=now - STREAK_GAP,
        streak_last_day_date__isnull=False,
        streak_last_day_date__lte=now,
    ).values_list("id", "last_activity_date", "streak_last_day_date", "streak_days")
    for user_id, last, start, days in active:
        if last >= start and (last - start).days != days:
            User.objects.filter(id=user_id).update(streak_days=(last - start).days)
            extended += 1
    logger.info("event=streaks_updated activity=%d reset=%d extended=%d", touched, reset, extended)
    return {"activity": touched, "reset": reset, "extended": extended}
