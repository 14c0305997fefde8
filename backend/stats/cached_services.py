"""Cached system statistics (OA ``CachedStatsRepository.update_all_cached_stats``)."""

from __future__ import annotations

import enum
import logging

from django.db import transaction
from django.db.models import Count

from backend.accounts.models import User
from backend.stats.models import CachedStats
from backend.trees.models import Message, MessageTree

logger = logging.getLogger("grove.stats")


class CachedStatsName(enum.StrEnum):
    """OA ``protocol.CachedStatsName``."""

    HUMAN_MESSAGES_BY_LANG = "human_messages_by_lang"
    HUMAN_MESSAGES_BY_ROLE = "human_messages_by_role"
    MESSAGE_TREES_BY_STATE = "message_trees_by_state"
    MESSAGE_TREES_STATES_BY_LANG = "message_trees_states_by_lang"
    USERS_ACCEPTED_TOS = "users_accepted_tos"


def _human_messages():
    return Message.objects.filter(deleted=False, review_result=True, synthetic=False)


def compute_cached_stats() -> dict[CachedStatsName, dict | list]:
    """Every cached document, freshly computed (one grouped query each)."""
    by_lang = _human_messages().values("lang").annotate(count=Count("id"))
    by_role = _human_messages().values("role").annotate(count=Count("id"))
    by_state = MessageTree.objects.values("state").annotate(count=Count("id"))
    # Grove keeps the language on the tree; OA read it from the initial prompt (the same).
    states_by_lang = (
        MessageTree.objects.values("lang", "state")
        .annotate(count=Count("id"))
        .order_by("lang", "state")
    )
    accepted_tos = User.objects.filter(enabled=True, tos_acceptance_date__isnull=False).count()
    return {
        CachedStatsName.HUMAN_MESSAGES_BY_LANG: {r["lang"]: r["count"] for r in by_lang},
        CachedStatsName.HUMAN_MESSAGES_BY_ROLE: {r["role"]: r["count"] for r in by_role},
        CachedStatsName.MESSAGE_TREES_BY_STATE: {r["state"]: r["count"] for r in by_state},
        CachedStatsName.MESSAGE_TREES_STATES_BY_LANG: [dict(r) for r in states_by_lang],
        CachedStatsName.USERS_ACCEPTED_TOS: {"count": accepted_tos},
    }


@transaction.atomic
def update_cached_stats() -> list[str]:
    """Recompute and store every cached document; returns the names written."""
    computed = compute_cached_stats()
    for name, stats in computed.items():
        CachedStats.objects.update_or_create(name=name.value, defaults={"stats": stats})
    logger.info("event=cached_stats_updated names=%d", len(computed))
    return [name.value for name in computed]
