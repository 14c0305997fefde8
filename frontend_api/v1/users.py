"""/api/v1/users/ (OA ``users.py``): find, page, read, update and delete users, and their
messages. Users are scoped to the calling API client; a trusted client may name any client
(``api_client_id``) and is the only one allowed to write. Stats, leaderboards and frontend
users are included from their own modules."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import selectors, user_services
from backend.trees import message_queries as queries
from backend.trees.message_queries import KeysetBound, MessageFilter
from frontend_api.v1 import message_serializers as messages_wire
from frontend_api.v1 import user_wire as wire
from frontend_api.v1.auth import IsTrustedClient
from frontend_api.v1.errors import OasstErrorCode, ProtocolError
from frontend_api.v1.messages import viewer
from frontend_api.v1.protocol import frontend_user_json
from frontend_api.v1.tasks import ERROR_RESPONSE


class UsersByUsernameView(APIView):
    """GET /users/by_username: users ordered by username, then id (keyset bounds)."""

    @extend_schema(
        parameters=[wire.UsersByUsernameQuery],
        responses={200: wire.FrontEndUserOut(many=True), 400: ERROR_RESPONSE, 403: ERROR_RESPONSE},
    )
    def get(self, request):
        return Response(_users_between(request, wire.UsersByUsernameQuery, "username"))


class UsersByDisplayNameView(APIView):
    """GET /users/by_display_name: users ordered by display name, then id."""

    @extend_schema(
        parameters=[wire.UsersByDisplayNameQuery],
        responses={200: wire.FrontEndUserOut(many=True), 400: ERROR_RESPONSE, 403: ERROR_RESPONSE},
    )
    def get(self, request):
        return Response(_users_between(request, wire.UsersByDisplayNameQuery, "display_name"))


def _users_between(request, query_class, field: str) -> list[dict]:
    """Users ordered by ``field`` then id, between OA's ``gte_<field>``/``lte_<field>`` bounds."""
    data = wire.valid_query(query_class, request)
    keyset = selectors.UserKeyset(
        gte=data.get(f"gte_{field}"),
        gt_id=data.get("gt_id"),
        lte=data.get(f"lte_{field}"),
        lt_id=data.get("lt_id"),
    )
    return wire.users_json(_users(request, field, keyset, data))


def _users(request, sort_key: str, keyset, data: dict, *, limit=None, desc=None):
    return selectors.users_ordered_by(
        client=request.auth,
        sort_key=sort_key,
        keyset=keyset,
        api_client_id=data.get("api_client_id"),
        auth_method=data.get("auth_method"),
        search_text=data.get("search_text"),
        limit=limit if limit is not None else data["max_count"],
        desc=desc if desc is not None else data["desc"],
    )


class UsersCursorView(APIView):
    """GET /users/cursor: OA ``FrontEndUserPage`` by ``username`` or ``display_name``."""

    @extend_schema(
        parameters=[
            wire.UserCursorQuery,
            # Another key is OA's 400 (code 100), below, not a field error.
            OpenApiParameter("sort_key", str, enum=selectors.USER_SORT_KEYS, default="username"),
        ],
        responses={200: wire.FrontEndUserPageOut, 400: ERROR_RESPONSE, 403: ERROR_RESPONSE},
    )
    def get(self, request):
        data = wire.valid_query(wire.UserCursorQuery, request)
        sort_key = data["sort_key"]
        if sort_key not in selectors.USER_SORT_KEYS:
            raise ProtocolError(
                f"Unsupported sort key: '{sort_key}'", OasstErrorCode.SORT_KEY_UNSUPPORTED
            )

        def fetch(keyset, limit, backwards):
            return _users(request, sort_key, keyset, data, limit=limit, desc=backwards)

        page = wire.cursor_page(
            before=data.get("before"),
            after=data.get("after"),
            max_count=data["max_count"],
            fetch=fetch,
            sort_key=sort_key,
        )
        return Response(page)


class UserDetailView(APIView):
    """GET /users/{id} (own client's users; any for trusted clients); PUT updates enabled,
    notes, show_on_leaderboard, tos_acceptance, display_name; DELETE flags the user deleted
    and anonymises it. PUT and DELETE are for trusted clients (204)."""

    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsTrustedClient()]

    @extend_schema(
        parameters=[wire.UserScopeQuery],
        responses={200: wire.FrontEndUserOut, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def get(self, request, user_id):
        data = wire.valid_query(wire.UserScopeQuery, request)
        user = selectors.visible_user(
            client=request.auth, user_id=user_id, api_client_id=data.get("api_client_id")
        )
        return Response(frontend_user_json(user))

    @extend_schema(
        parameters=[wire.UserUpdateInput],
        request=wire.UserUpdateInput,
        responses={204: None, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def put(self, request, user_id):
        raw = request.query_params.dict()
        if isinstance(request.data, dict):
            raw.update(request.data)
        serializer = wire.UserUpdateInput(data=raw)
        serializer.is_valid(raise_exception=True)
        user_services.update_user(user_id=user_id, actor=request.auth, **serializer.validated_data)
        return Response(status=204)

    @extend_schema(responses={204: None, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE})
    def delete(self, request, user_id):
        user_services.mark_user_deleted(user_id=user_id, actor=request.auth)
        return Response(status=204)


class UserMessagesView(APIView):
    """GET /users/{id}/messages: the user's messages by date (OA ``Message`` list);
    DELETE (trusted) flags all of them deleted, with their replies."""

    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsTrustedClient()]

    @extend_schema(
        parameters=[wire.UserMessagesQuery],
        responses={200: messages_wire.MessageOut(many=True), 404: ERROR_RESPONSE},
    )
    def get(self, request, user_id):
        data = wire.valid_query(wire.UserMessagesQuery, request)
        user = selectors.visible_user(
            client=request.auth, user_id=user_id, api_client_id=data.get("api_client_id")
        )
        messages = queries.messages_by_created(
            caller=request.auth,
            where=_user_filter(user, data),
            limit=data["max_count"],
            descending=data["desc"],
            after=KeysetBound(data["start_date"]) if data.get("start_date") else None,
            before=KeysetBound(data["end_date"]) if data.get("end_date") else None,
            include_user=True,
        )
        return Response(_render(request, messages))

    @extend_schema(responses={204: None, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE})
    def delete(self, request, user_id):
        user_services.mark_user_messages_deleted(user_id=user_id, actor=request.auth)
        return Response(status=204)


class UserMessagesCursorView(APIView):
    """GET /users/{id}/messages/cursor: OA ``MessagePage`` of the user's messages."""

    @extend_schema(
        parameters=[wire.UserMessagesCursorQuery],
        responses={200: messages_wire.MessagePageOut, 400: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def get(self, request, user_id):
        data = wire.valid_query(wire.UserMessagesCursorQuery, request)
        user = selectors.visible_user(client=request.auth, user_id=user_id)
        return Response(message_page_json(request, _user_filter(user, data), data))


def _user_filter(user, data: dict) -> MessageFilter:
    return MessageFilter(
        user_id=user.id,
        api_client_id=user.api_client_id,
        only_roots=data["only_roots"],
        include_deleted=data["include_deleted"],
        lang=data.get("lang"),
    )


def _render(request, messages) -> list[dict]:
    return messages_wire.render_messages(
        messages, viewer=viewer(request), caller=request.auth, include_user=True
    )


def message_page_json(request, where: MessageFilter, data: dict) -> dict:
    """OA ``MessagePage`` of messages matching ``where`` (shared with frontend_users)."""
    page = queries.message_page(
        caller=request.auth,
        where=where,
        max_count=data["max_count"],
        descending=data["desc"],
        before=messages_wire.parse_cursor(data.get("before")),
        after=messages_wire.parse_cursor(data.get("after")),
        include_user=True,
    )
    return {
        "prev": messages_wire.format_cursor(page.prev),
        "next": messages_wire.format_cursor(page.next),
        "sort_key": "created_date",
        "order": "desc" if data["desc"] else "asc",
        "items": _render(request, page.items),
    }


urlpatterns = [
    path("users/by_username", UsersByUsernameView.as_view(), name="users-by-username"),
    path("users/by_display_name", UsersByDisplayNameView.as_view(), name="users-by-display-name"),
    path("users/cursor", UsersCursorView.as_view(), name="users-cursor"),
    path("users/<uuid:user_id>", UserDetailView.as_view(), name="users-detail"),
    path("users/<uuid:user_id>/messages", UserMessagesView.as_view(), name="users-messages"),
    path(
        "users/<uuid:user_id>/messages/cursor",
        UserMessagesCursorView.as_view(),
        name="users-messages-cursor",
    ),
    path("", include("frontend_api.v1.frontend_users")),
    path("", include("frontend_api.v1.leaderboards")),
]
