"""Who is calling: the API client (X-API-Key) and the user it acts for.

The user comes from the protocol's ``user`` object in request bodies or from the
``X-OASST-USER: auth_method:username`` header. Users always belong to the calling client:
a client can never name, read or act as another client's user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

from rest_framework import permissions, serializers
from rest_framework.authentication import BaseAuthentication

from backend.accounts.models import ApiClient, AuthMethod, User
from backend.accounts.selectors import api_client_for_key, find_client_user
from backend.accounts.services import UserDisabled, user_for_request
from frontend_api.v1.errors import OasstErrorCode, ProtocolError
from frontend_api.v1.input_serializer import InputSerializer
from frontend_api.v1.strict_fields import StrictCharField

API_KEY_HEADER = "HTTP_X_API_KEY"
USER_HEADER = "HTTP_X_OASST_USER"
USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length


class ApiClientPrincipal:
    """``request.user`` for API-key requests (DRF wants an object with is_authenticated)."""

    is_authenticated = True

    def __init__(self, client: ApiClient):
        self.client = client
        self.pk = client.pk  # throttles key on it

    def __str__(self) -> str:
        return f"api-client:{self.client.id}"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        # The header only: a key in the URL lands in access logs, proxies and browser history.
        key = request.META.get(API_KEY_HEADER, "")
        if not key:
            raise ProtocolError(
                "missing API key (X-API-Key header)",
                OasstErrorCode.API_CLIENT_NOT_AUTHORIZED,
                HTTPStatus.FORBIDDEN,
            )
        client = api_client_for_key(key)
        if client is None or not client.enabled:
            raise ProtocolError(
                "API key not authorized", OasstErrorCode.API_CLIENT_NOT_AUTHORIZED, 403
            )
        # A malformed X-OASST-USER is a 400 on every keyed operation, as the document says,
        # read or not: the per-user throttle must not count free text as a user.
        parse_user_header(request)
        return ApiClientPrincipal(client), client

    def authenticate_header(self, request) -> str:
        return "X-API-Key"


class IsTrustedClient(permissions.BasePermission):
    """Endpoints OA reserves for trusted clients (admin, acting for any user)."""

    def has_permission(self, request, view) -> bool:
        client = request.auth
        if client is None or not client.trusted:
            raise ProtocolError(
                "this endpoint needs a trusted API client",
                OasstErrorCode.API_CLIENT_NOT_AUTHORIZED,
                HTTPStatus.FORBIDDEN,
            )
        return True


class ProtocolUserSerializer(InputSerializer):
    """OA ``User``: the frontend's id for the user, a display name and the auth method."""

    id = StrictCharField(max_length=USERNAME_MAX_LENGTH)
    display_name = StrictCharField(max_length=User._meta.get_field("display_name").max_length)
    auth_method = serializers.ChoiceField(choices=AuthMethod.values)


def _disabled(exc: UserDisabled) -> ProtocolError:
    return ProtocolError(str(exc), OasstErrorCode.USER_DISABLED, HTTPStatus.FORBIDDEN)


@contextmanager
def acting_user(
    client: ApiClient, protocol_user: dict, *, create: bool = True
) -> Iterator[User | None]:
    """The (possibly new) user a body's ``user`` object names, within ``client``, for the
    ``with`` block that does the request's work: a user created here is rolled back when the
    block raises, so a refused request leaves no row (``user_for_request``). With
    ``create=False``: None when the client has no such user yet."""
    try:
        with user_for_request(
            api_client=client,
            auth_method=protocol_user["auth_method"],
            username=protocol_user["id"],
            display_name=protocol_user.get("display_name"),
            create=create,
        ) as user:
            yield user
    except UserDisabled as exc:  # raised on entry: no service raises it
        raise _disabled(exc) from exc


def named_user(client: ApiClient, protocol_user: dict) -> User:
    """``acting_user`` for a request that cannot fail once the user exists (a websocket
    subscription): the user, created if new."""
    with acting_user(client, protocol_user) as user:
        assert user is not None  # created when missing
        return user


def parse_user_header(request) -> tuple[str, str] | None:
    """``(auth_method, username)`` from ``X-OASST-USER``, None when absent; 400 when malformed."""
    raw = request.META.get(USER_HEADER, "")
    if not raw:
        return None
    auth_method, sep, username = raw.partition(":")
    if not sep or not username or auth_method not in AuthMethod.values:
        raise ProtocolError(
            "X-OASST-USER must be 'auth_method:username' with auth_method one of "
            + ", ".join(AuthMethod.values),
            OasstErrorCode.AUTH_AND_USERNAME_REQUIRED,
        )
    if len(username) > USERNAME_MAX_LENGTH:
        raise ProtocolError(
            f"X-OASST-USER: the username has {len(username)} characters; "
            f"the limit is {USERNAME_MAX_LENGTH}",
            OasstErrorCode.AUTH_AND_USERNAME_REQUIRED,
        )
    return auth_method, username


def header_user(request, *, required: bool = False) -> User | None:
    """The existing user named by ``X-OASST-USER: auth_method:username``.

    As OA (``query_frontend_user``), the header names a user the client already made: an
    unknown one is 404/4002, never created; a disabled one is 403/4001."""
    named = parse_user_header(request)
    if named is None:
        if required:
            raise ProtocolError(
                "X-OASST-USER header (auth_method:username) is required",
                OasstErrorCode.USER_NOT_SPECIFIED,
            )
        return None
    auth_method, username = named
    return existing_user(request.auth, auth_method, username)


def existing_user(client: ApiClient, auth_method: str, username: str) -> User:
    """The enabled user ``auth_method:username`` of ``client`` (X-OASST-USER's rule, and the
    ``user`` of the socket's task_ack and task_nack): 404/4002 unknown, 403/4001 disabled."""
    user = find_client_user(client=client, auth_method=auth_method, username=username)
    if user is None:
        raise ProtocolError(
            f"user {auth_method}:{username} not found",
            OasstErrorCode.USER_NOT_FOUND,
            HTTPStatus.NOT_FOUND,
        )
    if not user.enabled or user.deleted:
        raise _disabled(UserDisabled(f"user {auth_method}:{username} is disabled"))
    return user
