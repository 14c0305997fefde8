"""/api/v1/frontend_users/ (OA ``frontend_users.py``): users by the frontend's own
``(auth_method, username)``, their messages, and registering a user with its settings."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import selectors, user_services
from backend.accounts.models import AuthMethod
from backend.accounts.selectors import UserKeyset
from backend.trees import message_queries as queries
from backend.trees.message_queries import KeysetBound, MessageFilter
from frontend_api.v1 import message_serializers as messages_wire
from frontend_api.v1 import user_wire as wire
from frontend_api.v1.auth import IsTrustedClient
from frontend_api.v1.messages import viewer
from frontend_api.v1.protocol import frontend_user_json
from frontend_api.v1.strict_fields import StrictBooleanField, StrictCharField
from frontend_api.v1.tasks import ERROR_RESPONSE
from frontend_api.v1.users import message_page_json


class CreateFrontendUserInput(serializers.Serializer):
    """OA ``CreateFrontendUserRequest``: a protocol ``User`` with its settings."""

    id = StrictCharField(max_length=128)
    display_name = StrictCharField(max_length=256)
    auth_method = serializers.ChoiceField(choices=AuthMethod.values)
    show_on_leaderboard = StrictBooleanField(default=True)
    enabled = StrictBooleanField(default=True)
    tos_acceptance = StrictBooleanField(required=False, allow_null=True, default=None)
    notes = StrictCharField(
        max_length=1024, required=False, allow_null=True, allow_blank=True, default=None
    )


class FrontendUsersView(APIView):
    """GET /frontend_users/ (deprecated in OA): users by username; POST registers a user of
    the calling client (created if missing, settings applied where they differ)."""

    acting_user_field = ""  # the throttle counts this user (throttling.py)

    @extend_schema(
        parameters=[wire.UsersByUsernameQuery],
        responses={200: wire.FrontEndUserOut(many=True), 400: ERROR_RESPONSE, 403: ERROR_RESPONSE},
    )
    def get(self, request):
        data = wire.valid_query(wire.UsersByUsernameQuery, request)
        users = selectors.users_ordered_by(
            client=request.auth,
            sort_key="username",
            keyset=UserKeyset(
                gte=data.get("gte_username"),
                gt_id=data.get("gt_id"),
                lte=data.get("lte_username"),
                lt_id=data.get("lt_id"),
            ),
            api_client_id=data.get("api_client_id"),
            auth_method=data.get("auth_method"),
            search_text=data.get("search_text"),
            limit=data["max_count"],
        )
        return Response(wire.users_json(users))

    @extend_schema(
        request=CreateFrontendUserInput, responses={200: wire.FrontEndUserOut, 422: ERROR_RESPONSE}
    )
    def post(self, request):
        serializer = CreateFrontendUserInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = user_services.register_frontend_user(
            api_client=request.auth,
            auth_method=data["auth_method"],
            username=data["id"],
            display_name=data["display_name"],
            enabled=data["enabled"],
            show_on_leaderboard=data["show_on_leaderboard"],
            tos_acceptance=data["tos_acceptance"],
            notes=data["notes"],
        )
        return Response(frontend_user_json(user))


class FrontendUserDetailView(APIView):
    """GET /frontend_users/{auth_method}/{username}: OA ``FrontEndUser``."""

    @extend_schema(
        parameters=[wire.UserScopeQuery],
        responses={200: wire.FrontEndUserOut, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def get(self, request, auth_method, username):
        messages_wire.valid_path_text(auth_method=auth_method, username=username)
        data = wire.valid_query(wire.UserScopeQuery, request)
        user = selectors.visible_frontend_user(
            client=request.auth,
            auth_method=auth_method,
            username=username,
            api_client_id=data.get("api_client_id"),
        )
        return Response(frontend_user_json(user))


def _named_filter(request, auth_method, username, data) -> MessageFilter:
    return MessageFilter(
        auth_method=auth_method,
        username=username,
        api_client_id=data.get("api_client_id") or request.auth.id,
        only_roots=data["only_roots"],
        include_deleted=data["include_deleted"],
        lang=data.get("lang"),
    )


class FrontendUserMessagesView(APIView):
    """GET /frontend_users/{auth_method}/{username}/messages (an unknown user has none);
    DELETE (trusted) flags the messages of the calling client's user deleted."""

    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsTrustedClient()]

    @extend_schema(
        parameters=[wire.UserMessagesQuery],
        responses={200: messages_wire.MessageOut(many=True), 403: ERROR_RESPONSE},
    )
    def get(self, request, auth_method, username):
        messages_wire.valid_path_text(auth_method=auth_method, username=username)
        data = wire.valid_query(wire.UserMessagesQuery, request)
        messages = queries.messages_by_created(
            caller=request.auth,
            where=_named_filter(request, auth_method, username, data),
            limit=data["max_count"],
            descending=data["desc"],
            after=KeysetBound(data["start_date"]) if data.get("start_date") else None,
            before=KeysetBound(data["end_date"]) if data.get("end_date") else None,
            include_user=True,
        )
        return Response(
            messages_wire.render_messages(
                messages, viewer=viewer(request), caller=request.auth, include_user=True
            )
        )

    @extend_schema(responses={204: None, 403: ERROR_RESPONSE})
    def delete(self, request, auth_method, username):
        messages_wire.valid_path_text(auth_method=auth_method, username=username)
        user = selectors.find_client_user(
            client=request.auth, auth_method=auth_method, username=username
        )
        if user is not None:
            user_services.mark_user_messages_deleted(user_id=user.id, actor=request.auth)
        return Response(status=204)


class FrontendUserMessagesCursorView(APIView):
    """GET /frontend_users/{auth_method}/{username}/messages/cursor: OA ``MessagePage``."""

    @extend_schema(
        parameters=[wire.UserMessagesCursorQuery],
        responses={200: messages_wire.MessagePageOut, 400: ERROR_RESPONSE},
    )
    def get(self, request, auth_method, username):
        messages_wire.valid_path_text(auth_method=auth_method, username=username)
        data = wire.valid_query(wire.UserMessagesCursorQuery, request)
        where = _named_filter(request, auth_method, username, data)
        return Response(message_page_json(request, where, data))


urlpatterns = [
    path("frontend_users/", FrontendUsersView.as_view(), name="frontend-users"),
    path(
        "frontend_users/<str:auth_method>/<str:username>",
        FrontendUserDetailView.as_view(),
        name="frontend-users-detail",
    ),
    path(
        "frontend_users/<str:auth_method>/<str:username>/messages",
        FrontendUserMessagesView.as_view(),
        name="frontend-users-messages",
    ),
    path(
        "frontend_users/<str:auth_method>/<str:username>/messages/cursor",
        FrontendUserMessagesCursorView.as_view(),
        name="frontend-users-messages-cursor",
    ),
]
