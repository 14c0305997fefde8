"""Reports and the moderators' queue of flagged messages.

A report is a user's labels on a message outside any task (OA's "free labeling"): it never
counts as a review. A report sent with ``is_report`` also puts the reporter's red flag on the
message (OA adds the ``red_flag`` emoji, which feeds auto moderation) and queues the message
for moderators; a report that marks a red-flag label strongly enough queues it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.trees import journal
from backend.trees.core.config import KNOWN_LABELS
from backend.trees.errors import MessageNotFound
from backend.trees.models import FlaggedMessage, Message, TextLabels
from backend.trees.services.interactions import validate_labels
from backend.trees.services.messages import RED_FLAG, EmojiOp, react_with_emoji

# Labels that call for a moderator's look when a reporter sets them at or above the threshold.
RED_FLAG_LABELS = frozenset(
    {"spam", "pii", "not_appropriate", "hate_speech", "sexual_content", "toxicity", "violence"}
)
RED_FLAG_LABEL_THRESHOLD = 0.5


def is_red_flag_report(labels: Mapping[str, float]) -> bool:
    return any(labels.get(name, 0.0) >= RED_FLAG_LABEL_THRESHOLD for name in RED_FLAG_LABELS)


@transaction.atomic
def report_message(
    *,
    user: User,
    message_id: uuid.UUID,
    labels: Mapping[str, object],
    text: str = "",
    is_report: bool = False,
) -> TextLabels:
    """Store (or refresh) ``user``'s free labels on a message; flag it when it is a report.

    As in OA, a user has one free-label row per message: sending again replaces its labels.
    """
    message = Message.objects.select_for_update(no_key=True).filter(id=message_id).first()
    if message is None:
        raise MessageNotFound(f"message {message_id} not found")
    clean = validate_labels(labels, valid=sorted(KNOWN_LABELS), mandatory=())
    row = TextLabels.objects.filter(message=message, user=user, task__isnull=True).first()
    if row is None:
        row = TextLabels.objects.create(
            message=message, user=user, api_client_id=user.api_client_id, labels=clean, text=text
        )
    else:
        row.labels, row.text = clean, text or row.text
        row.save(update_fields=["labels", "text"])
    flagged = bool(is_report) or is_red_flag_report(clean)
    if is_report:
        # The reporter's red flag (once per user; auto moderation counts them) also queues
        # the message, as in OA.
        react_with_emoji(message_id=message.id, user=user, emoji=RED_FLAG, op=EmojiOp.ADD)
    elif flagged:
        flag_message(message_id=message.id)
    journal.record(
        "message_reported",
        payload={"labels": clean, "is_report": bool(is_report), "flagged": flagged},
        message_tree_id=message.message_tree_id,
        message_id=message.id,
        user_id=user.id,
        api_client_id=user.api_client_id,
    )
    return row


def flag_message(*, message_id: uuid.UUID) -> FlaggedMessage:
    """Queue a message for moderators (again unprocessed, with a fresh date, if it was)."""
    flag, _ = FlaggedMessage.objects.update_or_create(
        message_id=message_id, defaults={"processed": False, "created_at": timezone.now()}
    )
    return flag


@transaction.atomic
def mark_flag_processed(*, message_id: uuid.UUID, actor: str) -> FlaggedMessage:
    flag = FlaggedMessage.objects.select_for_update().filter(message_id=message_id).first()
    if flag is None:
        raise MessageNotFound(f"message {message_id} is not flagged")
    if not flag.processed:
        flag.processed = True
        flag.save(update_fields=["processed"])
        journal.record(
            "flag_processed",
            message_id=message_id,
            message_tree_id=Message.objects.filter(id=message_id)
            .values_list("message_tree_id", flat=True)
            .first(),
            actor=actor,
        )
    return flag
