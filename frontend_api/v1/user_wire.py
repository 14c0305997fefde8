"""Wire shapes shared by the user endpoints: query inputs, the user page, OA cursors."""

from __future__ import annotations

import re
import uuid

from rest_framework import serializers

from backend.accounts.models import User
from backend.accounts.selectors import UserKeyset
from frontend_api.v1.message_serializers import (
    FrontEndUserOut,
    MessageCursorQuery,
    MessageWindowQuery,
)
from frontend_api.v1.protocol import frontend_user_json
from frontend_api.v1.strict_fields import StrictCharField, StrictUUIDField

# OA ``utils.split_uuid_pattern``: "<uuid>$<key>".
KEYED_CURSOR = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\$(.*)$"
)


class UserScopeQuery(serializers.Serializer):
    api_client_id = StrictUUIDField(required=False)


class UserMessagesQuery(UserScopeQuery, MessageWindowQuery):
    """OA ``GET /users/{id}/messages`` query parameters."""

    include_deleted = serializers.BooleanField(default=False)


class UserMessagesCursorQuery(MessageCursorQuery):
    """OA ``GET /users/{id}/messages/cursor`` query parameters."""


class UserListQuery(UserScopeQuery):
    gt_id = StrictUUIDField(required=False)
    lt_id = StrictUUIDField(required=False)
    search_text = StrictCharField(required=False)
    auth_method = StrictCharField(required=False)
    max_count = serializers.IntegerField(min_value=1, max_value=10000, default=100)
    desc = serializers.BooleanField(default=False)


class UsersByUsernameQuery(UserListQuery):
    gte_username = StrictCharField(required=False, allow_blank=True)
    lte_username = StrictCharField(required=False, allow_blank=True)


class UsersByDisplayNameQuery(UserListQuery):
    gte_display_name = StrictCharField(required=False, allow_blank=True)
    lte_display_name = StrictCharField(required=False, allow_blank=True)


class UserCursorQuery(UserScopeQuery):
    before = StrictCharField(required=False)
    after = StrictCharField(required=False)
    sort_key = StrictCharField(max_length=32, default="username")
    max_count = serializers.IntegerField(min_value=1, max_value=10000, default=100)
    search_text = StrictCharField(required=False)
    auth_method = StrictCharField(required=False)


class UserUpdateInput(serializers.Serializer):
    """OA ``PUT /users/{id}`` parameters (query string, or a JSON body with the same names)."""

    display_name = StrictCharField(max_length=256, required=False)
    enabled = serializers.BooleanField(required=False, allow_null=True)
    notes = StrictCharField(max_length=1024, required=False, allow_blank=True)
    show_on_leaderboard = serializers.BooleanField(required=False, allow_null=True)
    tos_acceptance = serializers.BooleanField(required=False, allow_null=True)


class FrontEndUserPageOut(serializers.Serializer):
    """OA ``FrontEndUserPage``."""

    prev = StrictCharField(allow_null=True)
    next = StrictCharField(allow_null=True)
    sort_key = StrictCharField()
    order = serializers.ChoiceField(choices=["asc", "desc"])
    items = FrontEndUserOut(many=True)


def valid_query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def split_cursor(raw: str | None) -> tuple[str | None, uuid.UUID | None]:
    """An OA user cursor: ``<user id>$<sort key value>``, or a bare sort key value."""
    if not raw:
        return None, None
    match = KEYED_CURSOR.match(raw)
    if match:
        return match[2], uuid.UUID(match[1])
    return raw, None


def users_json(users: list[User]) -> list[dict]:
    return [frontend_user_json(user) for user in users]


def cursor_page(
    *, before: str | None, after: str | None, max_count: int, fetch, sort_key: str
) -> dict:
    """OA ``GET /users/cursor``: one row more than asked tells whether a page follows;
    paging backwards reads in reverse and flips the rows back."""
    lte, lt_id = split_cursor(before)
    gte, gt_id = split_cursor(after)
    both = before is not None and after is not None
    query_max = max_count if both else max_count + 1
    backwards = before is not None and not after
    rows = fetch(UserKeyset(gte=gte, gt_id=gt_id, lte=lte, lt_id=lt_id), query_max, backwards)
    num_rows = len(rows)
    if query_max > max_count and num_rows == query_max:
        rows = rows[:-1]
    if backwards:
        rows.reverse()
    prev = nxt = None
    if rows:
        if (num_rows > max_count and lte) or gte:
            prev = f"{rows[0].id}${getattr(rows[0], sort_key)}"
        if num_rows > max_count or lte:
            nxt = f"{rows[-1].id}${getattr(rows[-1], sort_key)}"
    else:
        prev = gte or None
        nxt = lte or None
    return {
        "prev": prev,
        "next": nxt,
        "sort_key": sort_key,
        "order": "asc",
        "items": users_json(rows),
    }
