"""Writing the journal: the audit trail every state-changing service appends to."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from backend.fast_writes import Batch, insert
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
    writes: Batch | None = None,
) -> JournalEntry:
    """Append one entry; call it inside the transaction that made the change. With
    ``writes`` the entry joins that batch (and its id stays unknown)."""
    made = entry(
        event_type,
        payload=payload,
        message_tree_id=message_tree_id,
        message_id=message_id,
        user_id=user_id,
        api_client_id=api_client_id,
        actor=actor,
    )
    if writes is not None:
        writes.insert(made)
    else:
        insert(made)
    logged(event_type, message_tree_id, message_id, user_id, actor)
    return made


def entry(
    event_type: str,
    *,
    payload: Mapping[str, Any] | None = None,
    message_tree_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    api_client_id: uuid.UUID | None = None,
    actor: str = "",
) -> JournalEntry:
    """An entry not written yet (for a service that writes it in its own statement, then
    calls ``logged``)."""
    return JournalEntry(
        event_type=event_type,
        payload=dict(payload or {}),
        message_tree_id=message_tree_id,
        message_id=message_id,
        user_id=user_id,
        api_client_id=api_client_id,
        actor=actor,
    )


def logged(
    event_type: str,
    message_tree_id: uuid.UUID | None,
    message_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    actor: str = "",
) -> None:
    """The log line of an entry (``record`` writes it; so does a service that inserted the
    entry in its own statement)."""
    logger.info(
        "event=%s tree=%s message=%s user=%s actor=%s",
        event_type,
        message_tree_id,
        message_id,
        user_id,
        actor or "-",
    )
