"""Reading back the ``events`` of an exported message (see ``backend.trees.export_events``).

Events are checked with the rest of their line (a bad event stops the import with the line
number, nothing written) and written in their tree's transaction: emoji events become
``MessageEmoji`` rows, ranking and rating events ``MessageReaction`` rows without a task.

``Message.emojis`` stays the number of rows per code (as ``services.messages`` keeps it): a
code that has emoji events gets the count of its events; codes without events (task skips
such as ``_skip_reply``, or counts exported without events) keep the count of the file.
A ranking's ``ranked_message_ids`` that are in the file must be replies of the ranked
message; ids absent from the file (left out by the export's filters) are kept as they are.
OA's events carry no date: imported rows are dated just after the message (an emoji) or
its newest reply in the file (a ranking), one microsecond apart in the file's order, so a
new export lists them in the same order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backend.accounts.models import User
from backend.trees.export_events import EVENT_TYPES
from backend.trees.models import MessageEmoji, MessageReaction, ReactionType

EMOJI_MAX_LENGTH = MessageEmoji._meta.get_field("emoji").max_length


@dataclass(frozen=True)
class ImportedRanking:
    user_id: uuid.UUID | None
    ranking: list[int]
    ranked_message_ids: list[uuid.UUID]
    message_tree_id: uuid.UUID | None
    not_rankable: bool | None


@dataclass
class ImportedEvents:
    emojis: list[tuple[uuid.UUID | None, str]] = field(default_factory=list)
    rankings: list[ImportedRanking] = field(default_factory=list)
    ratings: list[tuple[uuid.UUID | None, str]] = field(default_factory=list)

    def user_ids(self) -> set[uuid.UUID | None]:
        return (
            {user_id for user_id, _ in self.emojis}
            | {r.user_id for r in self.rankings}
            | {user_id for user_id, _ in self.ratings}
        )


def parse_events(data: Any, message_id: uuid.UUID, where: str) -> ImportedEvents:
    """A node's ``events`` (absent or null: none); ValueError/TypeError name what is wrong."""
    events = ImportedEvents()
    if data is None:
        return events
    if not isinstance(data, dict):
        raise TypeError(f"{where}: events must map event types to lists of events")
    for kind, items in data.items():
        if kind not in EVENT_TYPES:
            raise ValueError(
                f"{where}: unknown event type {kind!r} (known: {', '.join(EVENT_TYPES)})"
            )
        if not isinstance(items, list):
            raise TypeError(f"{where}: events[{kind!r}] must be a list")
        for number, item in enumerate(items):
            at = f"{where}: {kind} event {number}"
            if not isinstance(item, dict):
                raise TypeError(f"{at} must be an object")
            if item.get("type", kind) != kind:
                raise ValueError(f"{at} has type {item.get('type')!r}")
            user_id = _uuid(item.get("user_id"), at, "user_id", optional=True)
            if kind == "emoji":
                events.emojis.append((user_id, _emoji(item.get("emoji"), at)))
            elif kind == "ranking":
                events.rankings.append(_ranking(item, user_id, message_id, at))
            else:
                events.ratings.append((user_id, _rating(item.get("rating"), at)))
    _check_once(events.emojis, where, "gives the same emoji twice")
    _check_once([(r.user_id, "") for r in events.rankings], where, "ranks the replies twice")
    _check_once([(u, "") for u, _ in events.ratings], where, "rates the message twice")
    return events


def _emoji(value: Any, at: str) -> str:
    if not isinstance(value, str) or not value or len(value) > EMOJI_MAX_LENGTH:
        raise ValueError(f"{at}: emoji must be a string of 1 to {EMOJI_MAX_LENGTH} characters")
    return value


def _rating(value: Any, at: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{at}: rating must be a non-empty string")
    return value


def _ranking(
    item: dict, user_id: uuid.UUID | None, message_id: uuid.UUID, at: str
) -> ImportedRanking:
    ranked = item.get("ranked_message_ids")
    if not isinstance(ranked, list) or not ranked:
        raise ValueError(f"{at}: ranked_message_ids must be a non-empty list of message ids")
    ranked_ids = [_uuid(i, at, "ranked_message_ids") for i in ranked]
    if len(set(ranked_ids)) != len(ranked_ids):
        raise ValueError(f"{at}: a message appears twice in ranked_message_ids")
    ranking = item.get("ranking")
    if (
        not isinstance(ranking, list)
        or any(isinstance(i, bool) or not isinstance(i, int) for i in ranking)
        or sorted(ranking) != list(range(len(ranked_ids)))
    ):
        raise ValueError(
            f"{at}: ranking must be a permutation of 0..{len(ranked_ids) - 1}, "
            "one index per ranked message"
        )
    parent_id = _uuid(item.get("ranking_parent_id"), at, "ranking_parent_id", optional=True)
    if parent_id is not None and parent_id != message_id:
        raise ValueError(f"{at}: ranking_parent_id must be the id of the message holding it")
    not_rankable = item.get("not_rankable")
    if not_rankable is not None and not isinstance(not_rankable, bool):
        raise ValueError(f"{at}: not_rankable must be true, false or absent")
    return ImportedRanking(
        user_id=user_id,
        ranking=list(ranking),
        ranked_message_ids=ranked_ids,
        message_tree_id=_uuid(item.get("message_tree_id"), at, "message_tree_id", optional=True),
        not_rankable=not_rankable,
    )


def _uuid(value: Any, at: str, name: str, *, optional: bool = False) -> uuid.UUID | None:
    if value is None and optional:
        return None
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        return uuid.UUID(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{at}: {name} {value!r} is not a UUID") from exc


def _check_once(pairs: list[tuple[uuid.UUID | None, str]], where: str, what: str) -> None:
    seen: set[tuple[uuid.UUID | None, str]] = set()
    for pair in pairs:
        if pair in seen:
            raise ValueError(f"{where}: user {pair[0]} {what}")
        seen.add(pair)


def counted_emojis(emojis: dict[str, int], events: ImportedEvents) -> dict[str, int]:
    """The file's emoji counts, with each code that has events counted from its events."""
    counts = dict(emojis)
    for _user_id, emoji in events.emojis:
        counts[emoji] = 0
    for _user_id, emoji in events.emojis:
        counts[emoji] += 1
    return counts


def check_rankings(
    parent_of: dict[uuid.UUID, uuid.UUID | None],
    events_of: dict[uuid.UUID, ImportedEvents],
    tree_id: uuid.UUID,
) -> dict[uuid.UUID, int]:
    """Check rankings against the tree of their line; returns how often each message of the
    file was ranked (its ``ranking_count``)."""
    ranked_count: dict[uuid.UUID, int] = {}
    for message_id, events in events_of.items():
        for ranking in events.rankings:
            at = f"message {message_id}: ranking event by user {ranking.user_id}"
            if ranking.message_tree_id not in (None, tree_id):
                raise ValueError(f"{at}: message_tree_id is not this tree's id")
            for ranked_id in ranking.ranked_message_ids:
                if ranked_id not in parent_of:
                    continue  # left out by the export's filters (deleted, synthetic)
                if parent_of[ranked_id] != message_id:
                    raise ValueError(f"{at}: ranked message {ranked_id} is not one of its replies")
                ranked_count[ranked_id] = ranked_count.get(ranked_id, 0) + 1
    return ranked_count


def newest_reply_dates(
    replies: Iterable[tuple[uuid.UUID | None, datetime]],
) -> dict[uuid.UUID, datetime]:
    """parent id -> the creation date of its newest reply, from (parent id, date) pairs."""
    newest: dict[uuid.UUID, datetime] = {}
    for parent_id, created in replies:
        if parent_id is not None:
            newest[parent_id] = max(newest.get(parent_id, created), created)
    return newest


def event_rows(
    *,
    message_id: uuid.UUID,
    events: ImportedEvents,
    users: dict[uuid.UUID | None, User],
    emoji_after: datetime,
    ranking_after: datetime,
) -> tuple[list[MessageEmoji], list[MessageReaction]]:
    """The rows of one message's events (not saved)."""
    step = timedelta(microseconds=1)
    emojis = [
        MessageEmoji(
            message_id=message_id,
            user=users[user_id],
            emoji=emoji,
            created_at=emoji_after + step * (i + 1),
        )
        for i, (user_id, emoji) in enumerate(events.emojis)
    ]
    reactions = [
        _reaction(message_id, users[r.user_id], ReactionType.RANKING, _ranking_payload(r))
        for r in events.rankings
    ] + [
        _reaction(message_id, users[user_id], ReactionType.RATING, {"rating": rating})
        for user_id, rating in events.ratings
    ]
    for i, reaction in enumerate(reactions):
        reaction.created_at = ranking_after + step * (i + 1)
    return emojis, reactions


def _ranking_payload(ranking: ImportedRanking) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ranking": ranking.ranking,
        "ranked_message_ids": [str(i) for i in ranking.ranked_message_ids],
    }
    if ranking.not_rankable is not None:
        payload["not_rankable"] = ranking.not_rankable
    return payload


def _reaction(message_id: uuid.UUID, user: User, kind: str, payload: dict) -> MessageReaction:
    return MessageReaction(
        message_id=message_id,
        user=user,
        api_client_id=user.api_client_id,
        payload_type=kind,
        payload=payload,
    )
