"""/api/v1/admin/: API clients, backend settings, purges, flagged messages, merging users.

Every endpoint here is for trusted clients, except ``backend_settings/public`` (any client),
as in OA. Grove's own tree-growth configuration and tree halting live in admin_config.py.
"""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import moderation
from backend.accounts.services import create_api_client
from backend.trees import moderation_selectors
from backend.trees.services.moderation import mark_flag_processed
from frontend_api.v1 import admin_config
from frontend_api.v1.admin_config import actor_of, valid_data
from frontend_api.v1.admin_settings import full_settings, public_settings
from frontend_api.v1.auth import IsTrustedClient
from frontend_api.v1.message_serializers import MESSAGE_CURSOR_HELP, format_cursor, parse_cursor
from frontend_api.v1.strict_fields import StrictBooleanField, StrictCharField, StrictUUIDField
from frontend_api.v1.tasks import ERROR_RESPONSE

TAGS = ["admin"]


class CreateApiClientInput(serializers.Serializer):
    description = StrictCharField(max_length=256)
    frontend_type = StrictCharField(max_length=256)
    trusted = StrictBooleanField(default=False, allow_null=True)
    admin_email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)


class CreateApiClientView(APIView):
    """POST /admin/api_client: a new API client; the body is its key, shown this once."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS,
        request=CreateApiClientInput,
        responses={200: OpenApiTypes.STR, 403: ERROR_RESPONSE},
    )
    def post(self, request):
        data = valid_data(CreateApiClientInput, request.data)
        issued = create_api_client(
            name=data["description"],
            frontend_type=data["frontend_type"],
            trusted=bool(data.get("trusted")),
            admin_email=data.get("admin_email") or "",
        )
        return Response(issued.api_key)


class BackendSettingsFullView(APIView):
    """GET /admin/backend_settings/full: every non-secret setting and the tree-growth config."""

    permission_classes = [IsTrustedClient]

    @extend_schema(tags=TAGS, responses={200: dict, 403: ERROR_RESPONSE})
    def get(self, request):
        return Response(full_settings())


class BackendSettingsPublicView(APIView):
    """GET /admin/backend_settings/public: OA's ``PublicSettings`` (any API client)."""

    @extend_schema(tags=TAGS, responses={200: dict})
    def get(self, request):
        return Response(public_settings())


class SystemStatsOutput(serializers.Serializer):
    all = serializers.IntegerField()
    active = serializers.IntegerField()
    active_by_lang = serializers.DictField(child=serializers.IntegerField())
    deleted = serializers.IntegerField()
    message_trees = serializers.IntegerField()


class PurgeResultOutput(serializers.Serializer):
    before = SystemStatsOutput()
    after = SystemStatsOutput()
    preview = serializers.BooleanField()
    duration = serializers.FloatField()


class PurgeUserQuery(serializers.Serializer):
    preview = serializers.BooleanField(default=True)
    ban = serializers.BooleanField(default=True)


class PurgeUserMessagesQuery(serializers.Serializer):
    preview = serializers.BooleanField(default=True)
    purge_initial_prompts = serializers.BooleanField(default=False)
    min_date = serializers.DateTimeField(required=False, allow_null=True)
    max_date = serializers.DateTimeField(required=False, allow_null=True)


def _query(serializer_class, request) -> dict:
    # Booleans arrive as "true"/"false" strings; absent ones take their defaults.
    return valid_data(serializer_class, request.query_params.dict())


class PurgeUserView(APIView):
    """POST /admin/purge_user/{user_id}?preview=&ban=: purge a user (a preview by default)."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS,
        request=None,
        parameters=[PurgeUserQuery],
        responses={200: PurgeResultOutput, 404: ERROR_RESPONSE},
    )
    def post(self, request, user_id):
        query = _query(PurgeUserQuery, request)
        result = moderation.purge_user(
            user_id=user_id, actor=actor_of(request), ban=query["ban"], preview=query["preview"]
        )
        return Response(asdict(result))


class PurgeUserMessagesView(APIView):
    """POST /admin/purge_user/{user_id}/messages: purge a user's messages in a date range."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS,
        request=None,
        parameters=[PurgeUserMessagesQuery],
        responses={200: PurgeResultOutput, 404: ERROR_RESPONSE},
    )
    def post(self, request, user_id):
        query = _query(PurgeUserMessagesQuery, request)
        result = moderation.purge_user_messages(
            user_id=user_id,
            actor=actor_of(request),
            purge_initial_prompts=query["purge_initial_prompts"],
            min_date=query.get("min_date"),
            max_date=query.get("max_date"),
            preview=query["preview"],
        )
        return Response(asdict(result))


class FlaggedMessageOutput(serializers.Serializer):
    message_id = StrictUUIDField()
    processed = serializers.BooleanField()
    created_date = serializers.DateTimeField(source="created_at")


class FlaggedMessagePageOutput(serializers.Serializer):
    prev = StrictCharField(allow_null=True)
    next = StrictCharField(allow_null=True)
    sort_key = StrictCharField()
    order = StrictCharField()
    items = FlaggedMessageOutput(many=True)


class FlaggedMessagesQuery(serializers.Serializer):
    max_count = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=moderation_selectors.MAX_PAGE_SIZE
    )


class FlaggedMessagesCursorQuery(serializers.Serializer):
    before = StrictCharField(required=False, allow_null=True, help_text=MESSAGE_CURSOR_HELP)
    after = StrictCharField(required=False, allow_null=True, help_text=MESSAGE_CURSOR_HELP)
    max_count = serializers.IntegerField(
        default=10, min_value=1, max_value=moderation_selectors.MAX_PAGE_SIZE
    )
    desc = serializers.BooleanField(default=False)


class FlaggedMessagesView(APIView):
    """GET /admin/flagged_messages?max_count=: the moderation queue, oldest first."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS,
        parameters=[FlaggedMessagesQuery],
        responses={200: FlaggedMessageOutput(many=True)},
    )
    def get(self, request):
        query = _query(FlaggedMessagesQuery, request)
        flags = moderation_selectors.flagged_messages(max_count=query.get("max_count"))
        return Response(FlaggedMessageOutput(flags, many=True).data)


class FlaggedMessagesCursorView(APIView):
    """GET /admin/flagged_messages/cursor: keyset pages of the queue (OA ``PageResult``)."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS,
        parameters=[FlaggedMessagesCursorQuery],
        responses={200: FlaggedMessagePageOutput, 400: ERROR_RESPONSE},
    )
    def get(self, request):
        query = _query(FlaggedMessagesCursorQuery, request)
        page = moderation_selectors.flagged_messages_page(
            before=parse_cursor(query.get("before")),
            after=parse_cursor(query.get("after")),
            max_count=query["max_count"],
            desc=query["desc"],
        )
        body = {
            "prev": format_cursor(page.prev),
            "next": format_cursor(page.next),
            "sort_key": "created_date",
            "order": page.order,
            "items": page.items,
        }
        return Response(FlaggedMessagePageOutput(body).data)


class FlaggedMessageProcessedView(APIView):
    """POST /admin/flagged_messages/{message_id}/processed: a moderator dealt with it."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS, request=None, responses={200: FlaggedMessageOutput, 404: ERROR_RESPONSE}
    )
    def post(self, request, message_id):
        flag = mark_flag_processed(message_id=message_id, actor=actor_of(request))
        return Response(FlaggedMessageOutput(flag).data)


class MergeUsersInput(serializers.Serializer):
    destination_user_id = StrictUUIDField()
    source_user_ids = serializers.ListField(child=StrictUUIDField(), max_length=1000)


class MergeUsersView(APIView):
    """POST /admin/merge_users: fold the source users into the destination user."""

    permission_classes = [IsTrustedClient]

    @extend_schema(tags=TAGS, request=MergeUsersInput, responses={204: None, 404: ERROR_RESPONSE})
    def post(self, request):
        data = valid_data(MergeUsersInput, request.data)
        moderation.merge_users(
            destination_user_id=data["destination_user_id"],
            source_user_ids=data["source_user_ids"],
            actor=actor_of(request),
        )
        return Response(status=204)


urlpatterns = [
    path("admin/api_client", CreateApiClientView.as_view(), name="admin-api-client"),
    path(
        "admin/backend_settings/full", BackendSettingsFullView.as_view(), name="admin-settings-full"
    ),
    path(
        "admin/backend_settings/public",
        BackendSettingsPublicView.as_view(),
        name="admin-settings-public",
    ),
    path("admin/purge_user/<uuid:user_id>", PurgeUserView.as_view(), name="admin-purge-user"),
    path(
        "admin/purge_user/<uuid:user_id>/messages",
        PurgeUserMessagesView.as_view(),
        name="admin-purge-user-messages",
    ),
    path("admin/flagged_messages", FlaggedMessagesView.as_view(), name="admin-flagged-messages"),
    path(
        "admin/flagged_messages/cursor",
        FlaggedMessagesCursorView.as_view(),
        name="admin-flagged-messages-cursor",
    ),
    path(
        "admin/flagged_messages/<uuid:message_id>/processed",
        FlaggedMessageProcessedView.as_view(),
        name="admin-flagged-message-processed",
    ),
    path("admin/merge_users", MergeUsersView.as_view(), name="admin-merge-users"),
    *admin_config.urlpatterns,
]
