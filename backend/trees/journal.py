"""Writing the journal: the audit trail every state-changing service appends to."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from backend.fast_writes import insert
from backend.trees.models import JournalEntry

logger = logging.getLogger("grove.journal")


def record(
    event_type: str,
    *,
    payload: Mapping[str, Any] | None = None,
    message_tree_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    api_client_id: uuid.UUID | None = None,
    actor: str = "",
) -> JournalEntry:
    """Append one entry; call it inside the transaction that made the change."""
    entry = insert(
        JournalEntry(
            event_type=event_type,
            payload=dict(payload or {}),
            message_tree_id=message_tree_id,
            message_id=message_id,
            user_id=user_id,
            api_client_id=api_client_id,
            actor=actor,
        )
    )
    logger.info(
        "event=%s tree=%s message=%s user=%s actor=%s",
        event_type,
        message_tree_id,
        message_id,
        user_id,
        actor or "-",
    )
    return entry
