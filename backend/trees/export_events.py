"""The ``events`` of an exported message: OA's ``ExportMessageNode.events``.

A message's events map an event type to a list of events, oldest first; each event is an
object with ``type`` and ``user_id``, as OA's ``ExportMessageEvent``:

- ``emoji``: one per ``MessageEmoji`` row (``emoji``);
- ``ranking``: one per ranking reaction, on the parent whose replies were ranked
  (``ranking``, ``ranked_message_ids``, ``ranking_parent_id``, ``message_tree_id`` and
  ``not_rankable`` when known), as OA stores a ranking on the ranked replies' parent;
- ``rating``: one per rating reaction (``rating``, a string as in OA's schema).

OA's event schema has no date, so none is written. Keys whose value is null are left out,
as everywhere in the export.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from backend.trees.models import MessageEmoji, MessageReaction, ReactionType

EVENT_TYPES = ("emoji", "ranking", "rating")

Events = dict[str, list[dict[str, Any]]]


def load_events(
    message_ids: list[uuid.UUID], *, user_key: Callable[[uuid.UUID], str]
) -> dict[uuid.UUID, Events]:
    """message id -> its events, for messages that have any. ``user_key`` turns a user id
    into the exported one (a pseudonym when the export is anonymised)."""
    found: dict[uuid.UUID, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    emojis = MessageEmoji.objects.filter(message_id__in=message_ids).order_by("created_at", "id")
    for message_id, user_id, emoji in emojis.values_list("message_id", "user_id", "emoji"):
        found[message_id]["emoji"].append(
            {"type": "emoji", "user_id": user_key(user_id), "emoji": emoji}
        )
    reactions = MessageReaction.objects.filter(
        message_id__in=message_ids,
        payload_type__in=[ReactionType.RANKING, ReactionType.RATING],
    ).order_by("created_at", "id")
    for message_id, tree_id, user_id, kind, payload in reactions.values_list(
        "message_id", "message__message_tree_id", "user_id", "payload_type", "payload"
    ):
        if kind == ReactionType.RANKING:
            found[message_id]["ranking"].append(
                _ranking_event(payload, user_key(user_id), message_id, tree_id)
            )
        else:
            found[message_id]["rating"].append(
                {"type": "rating", "user_id": user_key(user_id), "rating": str(payload["rating"])}
            )
    return {
        message_id: {kind: by_type[kind] for kind in EVENT_TYPES if kind in by_type}
        for message_id, by_type in found.items()
    }


def _ranking_event(
    payload: dict, user_id: str, parent_id: uuid.UUID, tree_id: uuid.UUID
) -> dict[str, Any]:
    event = {
        "type": "ranking",
        "user_id": user_id,
        "ranking": list(payload["ranking"]),
        "ranked_message_ids": [str(i) for i in payload["ranked_message_ids"]],
        "ranking_parent_id": str(parent_id),
        "message_tree_id": str(tree_id),
        "not_rankable": payload.get("not_rankable"),
    }
    return {key: value for key, value in event.items() if value is not None}
