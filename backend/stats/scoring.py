"""Open-Assistant's scoring rules for leaderboards and troll boards. Pure Python."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from backend.stats.models import TimeFrame

LEADER_COUNT_FIELDS = (
    "prompts",
    "replies_assistant",
    "replies_prompter",
    "labels_simple",
    "labels_full",
    "rankings_total",
    "rankings_good",
    "accepted_prompts",
    "accepted_replies_assistant",
    "accepted_replies_prompter",
    "reply_ranked_1",
    "reply_ranked_2",
    "reply_ranked_3",
)
TROLL_FLAG_LABELS = (
    "spam",
    "lang_mismatch",
    "not_appropriate",
    "pii",
    "hate_speech",
    "sexual_content",
    "political_content",
)
TROLL_MEAN_LABELS = ("quality", "humor", "toxicity", "violence", "helpfulness")

# OA ``UserStats.compute_leader_score``: weight per counter; prompts count a tenth each,
# truncated (int(prompts * 0.1)).
LEADER_WEIGHTS = {
    "replies_assistant": 4,
    "replies_prompter": 1,
    "labels_simple": 1,
    "labels_full": 2,
    "rankings_total": 1,
    "rankings_good": 1,
    "accepted_replies_assistant": 4,
    "accepted_replies_prompter": 1,
    "reply_ranked_1": 9,
    "reply_ranked_2": 3,
    "reply_ranked_3": 1,
}

T = TypeVar("T")


def _level_thresholds(baseline: int = 3, alpha: float = 1.1521, levels: int = 100) -> tuple:
    total, thresholds = 0.0, [0]
    for step in range(1, levels):
        total += step * alpha + baseline
        thresholds.append(round(total))
    return tuple(thresholds)


# OA's level progression (issue #1957, "XP thresholds for level progression"): the leader
# score each level starts at, a linear curve of 100 levels. The website indexes this table
# with a row's ``level`` (useUserScore: this level's score, the next level's), so levels
# count from 0.
LEVEL_THRESHOLDS = _level_thresholds()


def level_for_score(score: int) -> int:
    """The highest level whose threshold ``score`` reached (0 to 99)."""
    return bisect.bisect_right(LEVEL_THRESHOLDS, score) - 1


def leader_score(counts: Mapping[str, int]) -> int:
    tenths = int(counts.get("prompts", 0) * 0.1) + int(counts.get("accepted_prompts", 0) * 0.1)
    return tenths + sum(weight * counts.get(name, 0) for name, weight in LEADER_WEIGHTS.items())


def troll_score(counts: Mapping[str, int | float | None]) -> int:
    """OA ``TrollStats.compute_troll_score``: red flags weigh 3, up-votes count against, and
    every flag label except ``spam`` adds one."""
    flags = sum(int(counts.get(name) or 0) for name in TROLL_FLAG_LABELS if name != "spam")
    return (
        3 * int(counts.get("red_flags") or 0)
        - int(counts.get("upvotes") or 0)
        + int(counts.get("downvotes") or 0)
        + int(counts.get("spam_prompts") or 0)
        + flags
    )


def base_date(time_frame: TimeFrame, now: datetime) -> datetime | None:
    """Start of a time frame (OA ``update_stats``): the last 24 hours; the last 7 or 30 days
    from midnight; None for the total."""
    if time_frame is TimeFrame.DAY:
        return now - timedelta(days=1)
    if time_frame in (TimeFrame.WEEK, TimeFrame.MONTH):
        days = 7 if time_frame is TimeFrame.WEEK else 30
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=days)
    return None


def ranked(rows: Iterable[T], *, score: Callable[[T], int]) -> list[tuple[int, T]]:
    """``(rank, row)`` from 1, best score first, ties broken by user id (OA's ROW_NUMBER over
    ``score DESC, user_id``; PostgreSQL orders UUIDs as their hex text)."""
    ordered = sorted(rows, key=lambda r: (-score(r), str(r.user_id)))
    return list(enumerate(ordered, start=1))
