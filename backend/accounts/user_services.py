"""Writes on users made by API clients: admin updates, deletion, frontend registration, streaks.

One function per use case, one transaction each, a journal entry for every state change
(OA ``UserRepository.update_user`` / ``mark_user_deleted`` / ``lookup_client_user`` and
``PromptRepository.mark_messages_deleted``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from backend.accounts.errors import UserNotFound
from backend.accounts.models import ApiClient, AuthMethod, User
from backend.accounts.services import UserDisabled, ensure_user
from backend.compiled_query import SENTINEL_IDS, CompiledQuery, db_value
from backend.fast_writes import Batch, update
from backend.trees import journal
from backend.trees.models import Message

# OA oasst_shared.utils: what a deleted user is shown as, and the username it gets.
DELETED_USER_DISPLAY_NAME = "Deleted User"
DELETED_USER_ID_PREFIX = "deleted_"


# Every answer stamps its user's activity: compiled once (``backend.compiled_query``).
_LOCKED_USER = CompiledQuery(
    lambda user_id: User.objects.select_for_update(no_key=True).filter(id=user_id)[:1],
    sentinels={"user_id": SENTINEL_IDS[0]},
)


def _locked_user(user_id: uuid.UUID) -> User:
    found = _LOCKED_USER.fetch({"user_id": user_id})
    user = found[0] if found else None
    if user is None:
        raise UserNotFound(f"user {user_id} not found")
    return user


@transaction.atomic
def update_user(
    *,
    user_id: uuid.UUID,
    actor: ApiClient,
    display_name: str | None = None,
    enabled: bool | None = None,
    notes: str | None = None,
    show_on_leaderboard: bool | None = None,
    tos_acceptance: bool | None = None,
    now: datetime | None = None,
) -> User:
    """Change what an admin may change; None leaves a field as it is. ``tos_acceptance``
    true stamps the acceptance date (again, as in OA)."""
    user = _locked_user(user_id)
    changes: dict[str, object] = {}
    if display_name is not None:
        changes["display_name"] = display_name
    if enabled is not None:
        changes["enabled"] = enabled
    if notes is not None:
        changes["notes"] = notes
    if show_on_leaderboard is not None:
        changes["show_on_leaderboard"] = show_on_leaderboard
    if tos_acceptance:
        changes["tos_acceptance_date"] = now or timezone.now()
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        user.save(update_fields=list(changes))
        journal.record(
            "user_updated",
            payload={k: _plain(v) for k, v in changes.items()},
            user_id=user.id,
            api_client_id=actor.id,
            actor=f"api-client:{actor.id}",
        )
    return user


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


@transaction.atomic
def mark_user_deleted(*, user_id: uuid.UUID, actor: ApiClient) -> User:
    """Flag the user deleted and anonymise it: display name, username and leaderboard."""
    user = _locked_user(user_id)
    user.deleted = True
    user.display_name = DELETED_USER_DISPLAY_NAME
    user.username = f"{DELETED_USER_ID_PREFIX}{user.id}"
    user.show_on_leaderboard = False
    user.save(update_fields=["deleted", "display_name", "username", "show_on_leaderboard"])
    journal.record(
        "user_deleted", user_id=user.id, api_client_id=actor.id, actor=f"api-client:{actor.id}"
    )
    return user


@transaction.atomic
def mark_user_messages_deleted(*, user_id: uuid.UUID, actor: ApiClient) -> int:
    """Flag every message of the user deleted, with all their descendants (OA's recursive
    ``mark_messages_deleted``). Returns how many messages were newly flagged."""
    _locked_user(user_id)
    ids = list(Message.objects.filter(user_id=user_id).values_list("id", flat=True))
    flagged = Message.objects.filter(id__in=ids, deleted=False).update(deleted=True)
    parents = ids
    while parents:
        children = list(
            Message.objects.filter(parent_id__in=parents, deleted=False).values_list(
                "id", flat=True
            )
        )
        flagged += Message.objects.filter(id__in=children).update(deleted=True)
        parents = children
    journal.record(
        "user_messages_deleted",
        payload={"messages": flagged},
        user_id=user_id,
        api_client_id=actor.id,
        actor=f"api-client:{actor.id}",
    )
    return flagged


@transaction.atomic
def register_frontend_user(
    *,
    api_client: ApiClient,
    auth_method: str,
    username: str,
    display_name: str,
    enabled: bool | None = True,
    show_on_leaderboard: bool | None = True,
    tos_acceptance: bool | None = None,
    notes: str | None = None,
) -> User:
    """OA ``POST /frontend_users/``: the client's user, created if missing, then updated only
    where the request differs from what is stored. System users are hidden from leaderboards
    and accept the terms on creation (OA ``_lookup_user_tx``)."""
    created = not User.objects.filter(
        api_client=api_client, auth_method=auth_method, username=username
    ).exists()
    try:
        user = ensure_user(
            api_client=api_client,
            auth_method=auth_method,
            username=username,
            display_name=display_name,
        )
    except UserDisabled:
        # A disabled user may still be looked up and re-enabled here.
        user = User.objects.get(api_client=api_client, auth_method=auth_method, username=username)
    if created and auth_method == AuthMethod.SYSTEM:
        user.show_on_leaderboard = False
        user.tos_acceptance_date = timezone.now()
        user.save(update_fields=["show_on_leaderboard", "tos_acceptance_date"])
    if created:
        journal.record(
            "user_created",
            user_id=user.id,
            api_client_id=api_client.id,
            actor=f"api-client:{api_client.id}",
        )

    def changed(wanted, stored) -> bool:
        return wanted is not None and wanted != stored

    if (
        changed(enabled, user.enabled)
        or changed(show_on_leaderboard, user.show_on_leaderboard)
        or changed(notes, user.notes)
        or (tos_acceptance and user.tos_acceptance_date is None)
    ):
        user = update_user(
            user_id=user.id,
            actor=api_client,
            enabled=enabled,
            show_on_leaderboard=show_on_leaderboard,
            notes=notes,
            tos_acceptance=tos_acceptance,
        )
    return user


# record_user_activity's rule computed by PostgreSQL from the row it updates: no read of
# the row first. (Python's timedelta.days of a non-negative difference is its whole days;
# EXTRACT(EPOCH ...) of a timestamptz difference is its exact seconds, as a numeric.)
_NEW_STREAK = "streak_last_day_date IS NULL OR streak_last_day_date > %s"
_ACTIVITY_UPDATE = (
    f"UPDATE {User._meta.db_table} SET last_activity_date = %s,"
    f" streak_last_day_date = CASE WHEN {_NEW_STREAK} THEN %s ELSE streak_last_day_date END,"
    f" streak_days = CASE WHEN {_NEW_STREAK} THEN 0"
    " ELSE floor(EXTRACT(EPOCH FROM %s - streak_last_day_date) / 86400)::integer END"
    " WHERE id = %s"
)


def activity_update(user_id: uuid.UUID, now: datetime) -> tuple[str, list]:
    """PostgreSQL: the UPDATE (and its parameters) that does what ``record_user_activity``
    does, in one statement without reading the row first; for a caller that sends it with
    another statement (``CompiledQuery.fetch(with_write=...)``)."""
    at = db_value(now)
    return _ACTIVITY_UPDATE, [at, at, at, at, at, db_value(user_id)]


@transaction.atomic(savepoint=False)  # inside every answer's transaction: no savepoint
def record_user_activity(
    *, user_id: uuid.UUID, now: datetime | None = None, writes: Batch | None = None
) -> None:
    """Stamp the user's last activity and extend its streak (OA ``update_user_last_activity``
    with ``update_streak``): a missing or future streak start begins a new streak at 0 days,
    otherwise the streak counts the whole days since its start."""
    now = now or timezone.now()
    user = _locked_user(user_id)
    user.last_activity_date = now
    if user.streak_last_day_date is None or user.streak_last_day_date > now:
        user.streak_last_day_date = now
        user.streak_days = 0
    else:
        user.streak_days = (now - user.streak_last_day_date).days
    values = {
        "last_activity_date": user.last_activity_date,
        "streak_last_day_date": user.streak_last_day_date,
        "streak_days": user.streak_days,
    }
    if writes is not None:  # the caller sends it with its other writes
        writes.update(User, user.id, values)
    else:
        update(User, user.id, values)
