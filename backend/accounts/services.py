"""Writes on API clients and users: one function per use case, one transaction each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from backend.accounts.keys import (
    MIN_API_KEY_LENGTH,
    digest_api_key,
    generate_api_key,
    generate_key_id,
)
from backend.accounts.models import ApiClient, User
from backend.accounts.selectors import user_by_name

BOOTSTRAP_LOCK_KEY = 0x6726F7665  # any constant shared by every Grove process


class InvalidApiKey(ValueError):
    """A chosen API key is too short or already belongs to a client."""


@dataclass(frozen=True)
class IssuedApiClient:
    client: ApiClient
    api_key: str  # shown once; only its digest is stored


@transaction.atomic
def create_api_client(
    *,
    name: str,
    trusted: bool = False,
    frontend_type: str = "",
    admin_email: str = "",
    api_key: str | None = None,
) -> IssuedApiClient:
    """Create a client. ``api_key`` lets operators choose the key (bootstrap); else random."""
    key = api_key if api_key is not None else generate_api_key()
    if len(key) < MIN_API_KEY_LENGTH:
        raise InvalidApiKey(f"an API key needs at least {MIN_API_KEY_LENGTH} characters")
    digest = digest_api_key(key)
    if ApiClient.objects.filter(api_key_digest=digest).exists():
        raise InvalidApiKey("this API key already belongs to a client")
    client = ApiClient.objects.create(
        name=name,
        api_key_digest=digest,
        key_id=generate_key_id(),
        trusted=trusted,
        frontend_type=frontend_type,
        admin_email=admin_email,
    )
    return IssuedApiClient(client=client, api_key=key)


@transaction.atomic
def bootstrap_api_client(*, api_key: str | None) -> IssuedApiClient | None:
    """Create the first (trusted) client when there is none; None when clients exist.

    With ``api_key`` set (``GROVE_BOOTSTRAP_API_KEY``) that key is the client's, so scripts
    and docker-compose know it without reading logs. On PostgreSQL an advisory lock makes two
    processes starting together create one client, not two.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BOOTSTRAP_LOCK_KEY])
    if ApiClient.objects.exists():
        return None
    return create_api_client(
        name="bootstrap", trusted=True, frontend_type="bootstrap", api_key=api_key or None
    )


class UserDisabled(PermissionError):
    """The acting user was disabled or deleted by an admin."""


def ensure_user(
    *,
    api_client: ApiClient,
    auth_method: str,
    username: str,
    display_name: str | None = None,
    create: bool = True,
) -> User | None:
    """The user ``(auth_method, username)`` of ``api_client``, created on first sight (with
    ``create=False``: None instead, so a request that cannot succeed for a new user leaves
    no row behind).

    A changed display name is stored. Two requests creating the same user concurrently get
    the same row (the unique constraint decides, the loser reads the winner's row). A request
    that may still fail after this should use ``user_for_request`` instead.
    """
    user = _existing_user(api_client, auth_method, username, display_name)
    if user is None and create:
        user = _create_user(api_client, auth_method, username, display_name)
    return _enabled(user, auth_method, username)


@contextmanager
def user_for_request(
    *,
    api_client: ApiClient,
    auth_method: str,
    username: str,
    display_name: str | None = None,
    create: bool = True,
) -> Iterator[User | None]:
    """``ensure_user`` for the length of a request's work (the ``with`` block).

    A user this creates is committed with the block: when the block raises (no task
    available, a missing message, any refusal of the service), the new row is rolled back
    with it, so a refused request leaves no user behind (issue 10). An existing user costs
    no transaction: the block then runs as it would without this (a service's own
    ``transaction.atomic`` stays a transaction, not a savepoint).
    """
    user = _existing_user(api_client, auth_method, username, display_name)
    if user is not None or not create:
        yield _enabled(user, auth_method, username)
        return
    # The new row's unique index entry is held until the block ends: a concurrent first
    # request for the same user waits for it here, before it has locked anything else.
    with transaction.atomic():
        created = _create_user(api_client, auth_method, username, display_name)
        yield _enabled(created, auth_method, username)


def _existing_user(
    api_client: ApiClient, auth_method: str, username: str, display_name: str | None
) -> User | None:
    user = user_by_name(api_client.id, auth_method, username)
    if user is not None and display_name and user.display_name != display_name:
        User.objects.filter(id=user.id).update(display_name=display_name)
        user.display_name = display_name
    return user


def _create_user(
    api_client: ApiClient, auth_method: str, username: str, display_name: str | None
) -> User:
    lookup = {"api_client": api_client, "auth_method": auth_method, "username": username}
    try:
        with transaction.atomic():
            return User.objects.create(**lookup, display_name=display_name or username)
    except IntegrityError:
        return User.objects.get(**lookup)


def _enabled(user: User | None, auth_method: str, username: str) -> User | None:
    if user is not None and (not user.enabled or user.deleted):
        raise UserDisabled(f"user {auth_method}:{username} is disabled")
    return user
