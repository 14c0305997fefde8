"""Wire shapes of the message endpoints (OA ``protocol.Message``, ``MessageTree``,
``MessagePage``, ``MessageRevision``, ``MessageTreeStateResponse``): input serializers for
query strings and bodies, output serializers for the schema, and the render helpers.

Who sees what: message content, counts and ids are a shared dataset; a message's
``user_emojis``/``user_is_author`` are the viewer's own; the author's ``user`` object
(username, notes, activity) is only rendered for the author's own API client or a trusted
one (``author_for``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from rest_framework import serializers

from backend.accounts.models import ApiClient, User
from backend.trees import selectors
from backend.trees.message_queries import KeysetBound
from backend.trees.models import Message, MessageRevision, MessageTree
from backend.trees.services.messages import EmojiOp
from frontend_api.v1.auth import ProtocolUserSerializer
from frontend_api.v1.errors import OasstErrorCode, ProtocolError
from frontend_api.v1.protocol import conversation_message, message_json
from frontend_api.v1.strict_fields import StrictCharField, StrictUUIDField

# OA ``EmojiCode`` values, including the codes the task system uses for skips.
EMOJI_CODES = [
    "+1",
    "-1",
    "red_flag",
    "100",
    "rofl",
    "clap",
    "diamond",
    "heart_eyes",
    "disappointed",
    "poop",
    "skull",
    "_skip_reply",
    "_skip_ranking",
    "_skip_labeling",
]
MESSAGE_CURSOR_HELP = (
    "A page's `prev` or `next`: `<message id>$<ISO 8601 date-time>`, or an ISO 8601 date-time "
    "alone; anything else is a 400 (error_code 101)."
)
CURSOR = re.compile(r"^([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})\$(.*)$")


# --- input ---------------------------------------------------------------------------------


class MessageWindowQuery(serializers.Serializer):
    """Query parameters every OA message list shares (``/messages/``, ``/users/{id}/messages``)."""

    max_count = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    start_date = serializers.DateTimeField(required=False)
    end_date = serializers.DateTimeField(required=False)
    only_roots = serializers.BooleanField(default=False)
    desc = serializers.BooleanField(default=True)
    lang = StrictCharField(required=False)


class MessageQueryInput(MessageWindowQuery):
    """OA ``GET /messages/`` query parameters."""

    auth_method = StrictCharField(required=False)
    username = StrictCharField(required=False)
    api_client_id = StrictUUIDField(required=False)
    allow_deleted = serializers.BooleanField(default=False)


class MessageCursorQuery(serializers.Serializer):
    """Query parameters every OA message cursor page shares."""

    before = StrictCharField(required=False, help_text=MESSAGE_CURSOR_HELP)
    after = StrictCharField(required=False, help_text=MESSAGE_CURSOR_HELP)
    only_roots = serializers.BooleanField(default=False)
    include_deleted = serializers.BooleanField(default=False)
    max_count = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    desc = serializers.BooleanField(default=False)
    lang = StrictCharField(required=False)


class MessageCursorInput(MessageCursorQuery):
    """OA ``GET /messages/cursor`` query parameters."""

    user_id = StrictUUIDField(required=False)
    auth_method = StrictCharField(required=False)
    username = StrictCharField(required=False)
    api_client_id = StrictUUIDField(required=False)
    search_query = StrictCharField(required=False)
    include_user = serializers.BooleanField(default=False)


class MessageTreeQueryInput(serializers.Serializer):
    include_spam = serializers.BooleanField(default=True)
    include_deleted = serializers.BooleanField(default=False)


class TreeHaltInput(serializers.Serializer):
    halt = serializers.BooleanField()


class MessageEmojiInput(serializers.Serializer):
    """OA ``MessageEmojiRequest``."""

    user = ProtocolUserSerializer()
    op = serializers.ChoiceField(choices=[op.value for op in EmojiOp], default="toggle")
    emoji = serializers.ChoiceField(choices=EMOJI_CODES)


class MessageEditInput(serializers.Serializer):
    """OA ``MessageEditRequest``."""

    user = ProtocolUserSerializer()
    new_content = StrictCharField(trim_whitespace=False, allow_blank=True)


def valid_query(serializer_class, request) -> dict:
    """Validate a query string (a plain dict: a QueryDict would turn absent booleans False)."""
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def valid_body(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_PATH_TEXT = StrictCharField(trim_whitespace=False)


def valid_path_text(**segments: str) -> None:
    """422 for a free-text path segment (a frontend message id, a username) holding what no
    stored key can: NUL or lone surrogate characters, which PostgreSQL refuses in a query."""
    errors = {}
    for name, value in segments.items():
        try:
            _PATH_TEXT.run_validation(value)
        except serializers.ValidationError as exc:
            errors[name] = exc.detail
    if errors:
        raise serializers.ValidationError(errors)


def require_user_pair(data: dict) -> None:
    """OA filters by author only with both ``auth_method`` and ``username``."""
    if bool(data.get("auth_method")) != bool(data.get("username")):
        raise ProtocolError(
            "auth_method and username must be given together",
            OasstErrorCode.AUTH_AND_USERNAME_REQUIRED,
        )


def parse_cursor(value: str | None) -> KeysetBound | None:
    """OA cursors: ``<message id>$<ISO date>``, or a bare ISO date (400, code 101, if not)."""
    if not value:
        return None
    match = CURSOR.match(value)
    try:
        if match:
            return KeysetBound(_aware(datetime.fromisoformat(match[2])), uuid.UUID(match[1]))
        return KeysetBound(_aware(datetime.fromisoformat(value)))
    except ValueError:
        raise ProtocolError(
            f"invalid cursor value {value!r}", OasstErrorCode.INVALID_CURSOR_VALUE
        ) from None


def format_cursor(bound: KeysetBound | None) -> str | None:
    if bound is None:
        return None
    stamp = bound.created_at.isoformat()
    return f"{bound.message_id}${stamp}" if bound.message_id else stamp


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- rendering -----------------------------------------------------------------------------


def author_for(message: Message, caller: ApiClient) -> User | None:
    """The author, when the caller may see them: their own client, or a trusted one."""
    if caller.trusted or message.api_client_id == caller.id:
        return message.user
    return None


def render_messages(
    messages: list[Message], *, viewer: User | None, caller: ApiClient, include_user=False
) -> list[dict]:
    """OA ``Message`` list: one query for the viewer's emojis on all of them."""
    emojis = selectors.user_emojis(viewer.id, [m.id for m in messages]) if viewer else {}
    return [
        message_json(
            m,
            viewer=viewer,
            user_emojis=emojis,
            author=author_for(m, caller) if include_user else None,
        )
        for m in messages
    ]


def render_tree(tree_id, messages, *, viewer, caller) -> dict:
    """OA ``MessageTree``."""
    return {"id": str(tree_id), "messages": render_messages(messages, viewer=viewer, caller=caller)}


def render_conversation(messages: list[Message], *, viewer: User | None) -> dict:
    """OA ``Conversation``."""
    emojis = selectors.user_emojis(viewer.id, [m.id for m in messages]) if viewer else {}
    return {
        "messages": [conversation_message(m, viewer=viewer, user_emojis=emojis) for m in messages]
    }


def render_tree_state(tree: MessageTree) -> dict:
    """OA ``MessageTreeStateResponse``."""
    return {
        "message_tree_id": str(tree.id),
        "state": tree.state,
        "active": tree.active,
        "goal_tree_size": tree.goal_tree_size,
        "max_depth": tree.max_depth,
        "max_children_count": tree.max_children_count,
        "origin": tree.origin or None,
    }


def render_revision(revision: MessageRevision, *, viewer: User | None) -> dict:
    """OA ``MessageRevision``."""
    return {
        "id": str(revision.id),
        "text": revision.text,
        "message_id": str(revision.message_id),
        "user_id": str(revision.user_id) if revision.user_id else None,
        "created_date": revision.created_at.isoformat(),
        "user_is_author": viewer is not None and revision.user_id == viewer.id,
    }


# --- output (the OpenAPI description of the shapes above) ------------------------------------


class ConversationMessageOut(serializers.Serializer):
    id = StrictUUIDField()
    user_id = StrictUUIDField(allow_null=True)
    frontend_message_id = StrictCharField()
    text = StrictCharField()
    lang = StrictCharField()
    is_assistant = serializers.BooleanField()
    emojis = serializers.DictField(child=serializers.IntegerField())
    user_emojis = serializers.ListField(child=StrictCharField())
    user_is_author = serializers.BooleanField()
    # null in a ranking task whose replies are not all synthetic (reveal_synthetic false)
    synthetic = serializers.BooleanField(allow_null=True)


class ConversationOut(serializers.Serializer):
    messages = ConversationMessageOut(many=True)


class FrontEndUserOut(serializers.Serializer):
    """OA ``FrontEndUser``."""

    id = StrictCharField()
    display_name = StrictCharField()
    auth_method = StrictCharField()
    user_id = StrictUUIDField()
    enabled = serializers.BooleanField()
    deleted = serializers.BooleanField()
    notes = StrictCharField()
    created_date = serializers.DateTimeField(allow_null=True)
    show_on_leaderboard = serializers.BooleanField()
    streak_days = serializers.IntegerField(allow_null=True)
    streak_last_day_date = serializers.DateTimeField(allow_null=True)
    last_activity_date = serializers.DateTimeField(allow_null=True)
    tos_acceptance_date = serializers.DateTimeField(allow_null=True)


class MessageOut(ConversationMessageOut):
    parent_id = StrictUUIDField(allow_null=True)
    created_date = serializers.DateTimeField()
    review_result = serializers.BooleanField(allow_null=True)
    review_count = serializers.IntegerField()
    deleted = serializers.BooleanField()
    edited = serializers.BooleanField()
    model_name = StrictCharField(allow_null=True)
    message_tree_id = StrictUUIDField()
    ranking_count = serializers.IntegerField()
    rank = serializers.IntegerField(allow_null=True)
    user = FrontEndUserOut(allow_null=True)


class MessageTreeOut(serializers.Serializer):
    id = StrictUUIDField()
    messages = MessageOut(many=True)


class MessagePageOut(serializers.Serializer):
    prev = StrictCharField(allow_null=True)
    next = StrictCharField(allow_null=True)
    sort_key = StrictCharField()
    order = serializers.ChoiceField(choices=["asc", "desc"])
    items = MessageOut(many=True)


class MessageRevisionOut(serializers.Serializer):
    id = StrictUUIDField()
    text = StrictCharField()
    message_id = StrictUUIDField()
    user_id = StrictUUIDField(allow_null=True)
    created_date = serializers.DateTimeField()
    user_is_author = serializers.BooleanField()


class MessageTreeStateOut(serializers.Serializer):
    message_tree_id = StrictUUIDField()
    state = StrictCharField()
    active = serializers.BooleanField()
    goal_tree_size = serializers.IntegerField()
    max_depth = serializers.IntegerField()
    max_children_count = serializers.IntegerField()
    origin = StrictCharField(allow_null=True)
