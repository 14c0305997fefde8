"""Reads of leaderboards, troll boards, a user's stats, cached and live system statistics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Max, Min

from backend.accounts.models import ApiClient, User
from backend.stats.cached_services import CachedStatsName
from backend.stats.errors import CachedStatsNotAvailable
from backend.stats.models import CachedStats, TimeFrame, TrollStats, UserStats
from backend.trees.models import Message, MessageTree

MAX_BOARD_SIZE = 10000


def _visible_to(rows, client: ApiClient):
    """Untrusted clients see their own users only; ranks stay the global ones."""
    return rows if client.trusted else rows.filter(user__api_client=client)


def leaderboard(*, time_frame: str, client: ApiClient, limit: int = 100) -> list[UserStats]:
    """Ranked rows of enabled users shown on the leaderboard, best first (OA
    ``get_leaderboard``)."""
    rows = UserStats.objects.filter(
        time_frame=TimeFrame(time_frame),
        user__show_on_leaderboard=True,
        user__enabled=True,
        rank__isnull=False,
    ).select_related("user")
    return list(_visible_to(rows, client).order_by("rank")[: min(limit, MAX_BOARD_SIZE)])


def leaderboard_window(
    *, user: User, time_frame: str, client: ApiClient, window_size: int = 5
) -> list[UserStats] | None:
    """The leaderboard around ``user`` (OA ``get_leaderboard_user_window``): ranks from
    ``rank - window_size // 2`` to ``window_size`` further; None when the user has no rank."""
    if not user.show_on_leaderboard or not user.enabled:
        return None
    own = UserStats.objects.filter(user=user, time_frame=TimeFrame(time_frame)).first()
    if own is None or own.rank is None:
        return None
    low = max(0, own.rank - window_size // 2)
    rows = UserStats.objects.filter(
        time_frame=TimeFrame(time_frame),
        user__show_on_leaderboard=True,
        user__enabled=True,
        rank__gte=low,
        rank__lte=low + window_size,
    ).select_related("user")
    return list(_visible_to(rows, client).order_by("rank"))


def user_stats_by_time_frame(user: User) -> dict[str, UserStats | None]:
    """The user's stats row per time frame, None where none was computed yet."""
    rows = {row.time_frame: row for row in UserStats.objects.filter(user=user)}
    return {time_frame.value: rows.get(time_frame.value) for time_frame in TimeFrame}


def trollboard(*, time_frame: str, limit: int = 100, enabled: bool | None = None) -> list:
    """Troll board rows, worst first (OA ``get_trollboard``); trusted clients only."""
    rows = TrollStats.objects.filter(time_frame=TimeFrame(time_frame)).select_related("user")
    if enabled is not None:
        rows = rows.filter(user__enabled=enabled)
    return list(rows.order_by("rank")[: min(limit, MAX_BOARD_SIZE)])


def last_updated(rows) -> datetime | None:
    return max((row.modified_date for row in rows), default=None)


def cached_stats(name: str) -> CachedStats:
    row = CachedStats.objects.filter(name=CachedStatsName(name).value).first()
    if row is None:
        raise CachedStatsNotAvailable(f"Cached stats '{name}' not found.")
    return row


def all_cached_stats() -> list[CachedStats]:
    return list(CachedStats.objects.order_by("name"))


@dataclass(frozen=True)
class SystemStats:
    """OA ``SystemStats``: message counts over the whole database."""

    all: int
    active: int
    active_by_lang: dict[str, int]
    deleted: int
    message_trees: int


def system_stats() -> SystemStats:
    """OA ``PromptRepository.get_stats``: messages by language and deletion, and trees."""
    by_lang: dict[str, int] = {}
    deleted = 0
    rows = Message.objects.values_list("lang", "deleted").annotate(n=Count("id")).order_by()
    for lang, is_deleted, n in rows:
        if is_deleted:
            deleted += n
        else:
            by_lang[lang] = n
    active = sum(by_lang.values())
    trees = Message.objects.filter(parent__isnull=True).count()
    return SystemStats(active + deleted, active, by_lang, deleted, trees)


def tree_counts_by_state() -> dict[str, int]:
    """Trees per state (OA ``TreeManager.tree_counts_by_state``)."""
    rows = MessageTree.objects.values_list("state").annotate(n=Count("id")).order_by()
    return dict(rows)


@dataclass(frozen=True)
class TreeMessageCount:
    """OA ``TreeMessageCountStats``: one tree's live messages."""

    message_tree_id: uuid.UUID
    state: str
    depth: int
    oldest: datetime
    youngest: datetime
    count: int
    goal_tree_size: int


def tree_message_counts(*, only_active: bool = True) -> list[TreeMessageCount]:
    """Live message counts, depth and ages per tree (OA ``tree_message_count_stats``)."""
    messages = Message.objects.filter(deleted=False)
    if only_active:
        messages = messages.filter(message_tree__active=True)
    rows = (
        messages.values(
            "message_tree_id",
            state=F("message_tree__state"),
            goal_tree_size=F("message_tree__goal_tree_size"),
        )
        .annotate(
            depth=Max("depth"),
            oldest=Min("created_at"),
            youngest=Max("created_at"),
            count=Count("id"),
        )
        .order_by("message_tree_id")
    )
    return [TreeMessageCount(**row) for row in rows]
