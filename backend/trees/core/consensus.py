"""Turning many people's reviews and rankings into one decision. Pure Python.

Reviews are label dicts (label name -> value in [0, 1]), as stored from OA ``TextLabels``.
Rankings are lists of message ids, best first, as stored from OA ``MessageRanking``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from backend.trees.core.config import TreeManagerConfig

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

Review = Mapping[str, float]
# Message ids: hashable, and sortable (ranked pairs indexes the items in sorted order).
Id = TypeVar("Id", bound="SupportsRichComparison")

RED_FLAG = "red_flag"
SKIP_REPLY = "_skip_reply"


class ReviewOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


def mean_label(reviews: Sequence[Review], label: str) -> float | None:
    """Mean of ``label`` over the reviews that set it; None when no review set it."""
    values = [r[label] for r in reviews if r.get(label) is not None]
    return sum(values) / len(values) if values else None


def mean_quality(reviews: Sequence[Review]) -> float | None:
    """Mean ``quality`` label (Grove's ``min_prompt_quality`` / extension gate)."""
    return mean_label(reviews, "quality")


def acceptance_score(reviews: Sequence[Review]) -> float:
    """OA ``_calculate_acceptance``: ``1 - (mean(spam) + mean(lang_mismatch))``.

    Both means run over *all* reviews, a missing value counting as 0. (OA treats a missing
    ``lang_mismatch`` as 0 but fails on a missing ``spam``; Grove counts it as 0 too.)
    """
    if not reviews:
        raise ValueError("acceptance_score needs at least one review")
    spam = sum(r.get("spam") or 0.0 for r in reviews) / len(reviews)
    lang_mismatch = sum(r.get("lang_mismatch") or 0.0 for r in reviews) / len(reviews)
    return 1.0 - (spam + lang_mismatch)


def review_outcome(
    reviews: Sequence[Review], required: int, threshold: float
) -> ReviewOutcome | None:
    """None until ``required`` reviews are in; then accepted iff the acceptance score is
    at or above ``threshold``. (OA compares strictly; Grove's specification says "at or
    above", so a score exactly on the threshold is accepted.)"""
    if len(reviews) < required:
        return None
    if acceptance_score(reviews) >= threshold:
        return ReviewOutcome.ACCEPTED
    return ReviewOutcome.REJECTED


def required_reviews(is_prompt: bool, config: TreeManagerConfig) -> int:
    """``num_reviews_initial_prompt`` for a root prompt, ``num_reviews_reply`` otherwise."""
    return config.num_reviews_initial_prompt if is_prompt else config.num_reviews_reply


def acceptance_threshold(is_prompt: bool, config: TreeManagerConfig) -> float:
    """``acceptance_threshold_initial_prompt`` or ``acceptance_threshold_reply``."""
    if is_prompt:
        return config.acceptance_threshold_initial_prompt
    return config.acceptance_threshold_reply


# --- auto moderation -----------------------------------------------------------------------


class ModerationAction(enum.StrEnum):
    """What OA ``_auto_moderation`` does to a message and its tree."""

    ABORT_TREE = "abort_tree"  # red-flagged initial prompt -> aborted_low_grade
    DELETE = "delete_message"  # red-flagged reply -> deleted with its subtree
    HALT_TREE = "halt_tree"  # too many skip-reply -> halted_by_moderator


def count_emoji(emoji_counts: Mapping[str, int], emoji: str) -> int:
    """The count of one emoji code (0 when absent)."""
    return int(emoji_counts.get(emoji) or 0)


def count_red_flags(emoji_counts: Mapping[str, int]) -> int:
    """How many users red-flagged a message."""
    return count_emoji(emoji_counts, RED_FLAG)


def moderation_actions(
    *, is_prompt: bool, emoji_counts: Mapping[str, int], config: TreeManagerConfig
) -> list[ModerationAction]:
    """Actions for one message: ``auto_mod_red_flags`` or more red flags abort the tree (prompt)
    or delete the message (reply); ``auto_mod_max_skip_reply`` or more skips halt the tree.
    Nothing when ``auto_mod_enabled`` is off."""
    if not config.auto_mod_enabled:
        return []
    actions = []
    if count_red_flags(emoji_counts) >= config.auto_mod_red_flags:
        actions.append(ModerationAction.ABORT_TREE if is_prompt else ModerationAction.DELETE)
    if count_emoji(emoji_counts, SKIP_REPLY) >= config.auto_mod_max_skip_reply:
        actions.append(ModerationAction.HALT_TREE)
    return actions


# --- ranking consensus ---------------------------------------------------------------------


def ranked_pairs(
    rankings: Sequence[Sequence[Id]], weights: Sequence[float] | None = None
) -> list[Id]:
    """Tideman ranked-pairs consensus of complete rankings of the same items (best first).

    Same result as OA ``utils/ranking.ranked_pairs``: items are indexed in sorted order,
    majorities (pairs whose margin is >= 0, so a tie yields both directions) are locked in by
    decreasing margin, equal margins in (winner index, loser index) order, skipping any pair
    that would close a cycle. The locked graph orders all items totally; that order is returned.
    ``weights`` (Grove's adaptive ranking policy: each ranker's informativeness) scale each
    ranking's pairwise votes; None counts every ranking once, as OA.
    """
    if not rankings:
        return []
    names = sorted(rankings[0])
    _check_same_items(rankings, names)
    n = len(names)
    if n < 2:
        return list(names)
    index = {name: i for i, name in enumerate(names)}
    wins = [[0.0] * n for _ in range(n)]
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        order = [index[item] for item in ranking]
        for pos, winner in enumerate(order):
            for loser in order[pos + 1 :]:
                wins[winner][loser] += weight
    majorities = [
        (wins[i][j] - wins[j][i], i, j)
        for i in range(n)
        for j in range(n)
        if i != j and wins[i][j] >= wins[j][i]
    ]
    majorities.sort(key=lambda m: m[0], reverse=True)  # stable: ties keep (i, j) order
    beats: list[set[int]] = [set() for _ in range(n)]
    for _, winner, loser in majorities:
        if not _reaches(beats, loser, winner):
            beats[winner].add(loser)
    return [names[i] for i in _total_order(beats)]


def _check_same_items(rankings: Sequence[Sequence[Id]], names: list[Id]) -> None:
    expected = set(names)
    if len(expected) != len(names):
        raise ValueError("a ranking lists an item twice")
    for ranking in rankings:
        if len(ranking) != len(names) or set(ranking) != expected:
            raise ValueError("all rankings must order the same items")


def _reaches(beats: list[set[int]], start: int, goal: int) -> bool:
    """Is there a path start -> ... -> goal in the locked graph?"""
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in beats[node] - seen:
            seen.add(nxt)
            stack.append(nxt)
    return False


def _total_order(beats: list[set[int]]) -> list[int]:
    """Repeatedly take the lowest-index item nobody remaining beats (as OA's ``get_winner``)."""
    remaining = set(range(len(beats)))
    order = []
    while remaining:
        beaten = {loser for w in remaining for loser in beats[w] if loser in remaining}
        winner = min(remaining - beaten)
        order.append(winner)
        remaining.remove(winner)
    return order


def common_items(rankings: Iterable[Sequence[Id]]) -> set[Id]:
    """Items that every ranking contains."""
    sets = [set(r) for r in rankings]
    return set.intersection(*sets) if sets else set()


def consensus_order(
    rankings: Sequence[Sequence[Id]], weights: Sequence[float] | None = None
) -> list[Id] | None:
    """OA ``ranked_pairs_update``: restrict each ranking to the items ranked by all, then take
    the ranked-pairs consensus. None when fewer than two items are common (nothing to order)."""
    common = common_items(rankings)
    if len(common) < 2:
        return None
    return ranked_pairs([[item for item in r if item in common] for r in rankings], weights)


def message_ranks(
    rankings: Sequence[Sequence[Id]],
    sibling_ids: Iterable[Id] = (),
    weights: Sequence[float] | None = None,
) -> dict[Id, int | None]:
    """``{message_id: rank}`` to write back, rank 0 being the best.

    Siblings that are not part of the consensus get ``None`` (their old rank is cleared), as in
    OA. Returns ``{}`` (change nothing) when no consensus exists.
    """
    order = consensus_order(rankings, weights)
    if order is None:
        return {}
    ranks: dict[Id, int | None] = dict.fromkeys(sibling_ids)
    ranks.update({message_id: rank for rank, message_id in enumerate(order)})
    return ranks
