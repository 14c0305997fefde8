"""Reads on API clients and users."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from backend.accounts.errors import ForeignClientForbidden, InvalidKeyset, UserNotFound
from backend.accounts.keys import digest_api_key
from backend.accounts.models import ApiClient, User
from backend.compiled_query import SENTINEL_IDS, CompiledQuery

# Every request looks its client up by key; clients change rarely. Found clients are kept in
# this process for GROVE_API_CLIENT_CACHE_SECONDS (unknown keys are not, so the map holds one
# entry per client at most). Saving or deleting a client in this process empties the map
# (backend/accounts/apps.py); another process may still accept a key disabled here for up to
# that many seconds.
_clients_by_digest: dict[str, tuple[float, ApiClient]] = {}


def api_client_for_key(api_key: str) -> ApiClient | None:
    """The client holding ``api_key`` (enabled or not), or None."""
    if not api_key:
        return None
    digest = digest_api_key(api_key)
    now = time.monotonic()
    cached = _clients_by_digest.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    client = ApiClient.objects.filter(api_key_digest=digest).first()
    if client is not None and settings.GROVE_API_CLIENT_CACHE_SECONDS > 0:
        _clients_by_digest[digest] = (now + settings.GROVE_API_CLIENT_CACHE_SECONDS, client)
    return client


def forget_api_clients(**_signal_arguments) -> None:
    """Drop the clients kept by ``api_client_for_key`` (a client was saved or deleted)."""
    _clients_by_digest.clear()


def enabled_api_client_ids() -> list:
    """Ids of the clients that may still call Grove (the audience of public broadcasts)."""
    return list(ApiClient.objects.filter(enabled=True).values_list("id", flat=True))


# --- users as seen by one API client (OA ``UserRepository`` reads) -------------------------

USER_SORT_KEYS = ("username", "display_name")


def client_filter(client: ApiClient, api_client_id: uuid.UUID | None) -> uuid.UUID | None:
    """The client whose users a query may return; None means every client (trusted only).

    An untrusted client sees its own users only and may not name another client.
    """
    if client.trusted:
        return api_client_id
    if api_client_id is not None and api_client_id != client.id:
        raise ForeignClientForbidden("this API client may not read another client's users")
    return client.id


def visible_user(
    *, client: ApiClient, user_id: uuid.UUID, api_client_id: uuid.UUID | None = None
) -> User:
    """The user ``user_id`` if ``client`` may see it (OA ``get_user``)."""
    users = User.objects.filter(id=user_id)
    scope = client_filter(client, api_client_id)
    if scope is not None:
        users = users.filter(api_client_id=scope)
    user = users.first()
    if user is None:
        raise UserNotFound(f"user {user_id} not found")
    return user


def visible_frontend_user(
    *, client: ApiClient, auth_method: str, username: str, api_client_id: uuid.UUID | None = None
) -> User:
    """A user by the frontend's ``(auth_method, username)``, within one client (OA
    ``query_frontend_user``: a trusted client may name another client)."""
    owner = api_client_id or client.id
    if not client.trusted and owner != client.id:
        raise ForeignClientForbidden("this API client may not read another client's users")
    user = User.objects.filter(
        api_client_id=owner, auth_method=auth_method, username=username
    ).first()
    if user is None:
        raise UserNotFound(f"user {auth_method}:{username} not found")
    return user


# Every protocol request names its user: compiled once (``backend.compiled_query``). Built
# and compiled per call (``.filter(...).first()``), the lookup of a socket ack's user was 8 %
# of a web process's samples under push (py-spy, push_cycles at 16 volunteers).
_USER_BY_NAME = CompiledQuery(
    lambda api_client_id, auth_method, username: User.objects.filter(
        api_client_id=api_client_id, auth_method=auth_method, username=username
    )[:1],
    sentinels={
        "api_client_id": SENTINEL_IDS[0],
        "auth_method": "grove-auth-method-sentinel",
        "username": "grove-username-sentinel",
    },
)


def user_by_name(api_client_id, auth_method: str, username: str) -> User | None:
    """The client's user ``auth_method:username`` or None (unique per client)."""
    found = _USER_BY_NAME.fetch(
        {"api_client_id": api_client_id, "auth_method": auth_method, "username": username}
    )
    return found[0] if found else None


def find_client_user(*, client: ApiClient, auth_method: str, username: str) -> User | None:
    """The client's user ``auth_method:username`` or None (never creates one)."""
    return user_by_name(client.id, auth_method, username)


@dataclass(frozen=True)
class UserKeyset:
    """Bounds of a keyset page over ``(sort key, id)``; ids break ties between equal keys."""

    gte: str | None = None
    gt_id: uuid.UUID | None = None
    lte: str | None = None
    lt_id: uuid.UUID | None = None


def users_ordered_by(
    *,
    client: ApiClient,
    sort_key: str,
    keyset: UserKeyset = UserKeyset(),
    api_client_id: uuid.UUID | None = None,
    auth_method: str | None = None,
    search_text: str | None = None,
    limit: int | None = 100,
    desc: bool = False,
) -> list[User]:
    """Users ordered by ``sort_key`` then id (OA ``query_users_ordered_by_username`` /
    ``..._by_display_name``); ``search_text`` is a case-sensitive substring of the key."""
    if sort_key not in USER_SORT_KEYS:
        raise ValueError(f"unsupported sort key {sort_key!r}")
    users = User.objects.all()
    scope = client_filter(client, api_client_id)
    if scope is not None:
        users = users.filter(api_client_id=scope)
    if keyset.gte is not None:
        after = Q(**{f"{sort_key}__gt": keyset.gte})
        if keyset.gt_id:
            after |= Q(**{sort_key: keyset.gte, "id__gt": keyset.gt_id})
        else:
            after |= Q(**{sort_key: keyset.gte})
        users = users.filter(after)
    elif keyset.gt_id:
        raise InvalidKeyset("need id and name for keyset pagination")
    if keyset.lte is not None:
        before = Q(**{f"{sort_key}__lt": keyset.lte})
        if keyset.lt_id:
            before |= Q(**{sort_key: keyset.lte, "id__lt": keyset.lt_id})
        else:
            before |= Q(**{sort_key: keyset.lte})
        users = users.filter(before)
    elif keyset.lt_id:
        raise InvalidKeyset("need id and name for keyset pagination")
    if auth_method:
        users = users.filter(auth_method=auth_method)
    if search_text:
        users = users.filter(**{f"{sort_key}__contains": search_text})
    order = [f"-{sort_key}", "-id"] if desc else [sort_key, "id"]
    users = users.order_by(*order)
    return list(users[:limit] if limit is not None else users)
