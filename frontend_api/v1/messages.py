"""/api/v1/messages/ and /api/v1/frontend_messages/ (OA ``messages.py``,
``frontend_messages.py``).

Reading: messages are Open-Assistant's shared dataset, so any API client may read any
message, conversation or tree by id. What belongs to a user stays scoped: ``user_emojis``
and ``user_is_author`` are those of the viewer (``X-OASST-USER``, looked up in the calling
client only, never created by a read), and the author's ``user`` object is rendered only
for the author's own client or a trusted one. Listing (``/messages/``, ``/cursor``) is
scoped too: an untrusted client lists its own client's messages only (403 for another
``api_client_id``). ``frontend_messages`` ids are the calling client's own.

Writing: delete, undelete, edit and halting a tree are moderation, for trusted clients;
emojis are any client's, acting for one of its own users.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.trees import message_queries as queries
from backend.trees import selectors
from backend.trees.message_queries import MessageFilter
from backend.trees.services import messages as services
from frontend_api.v1 import message_serializers as wire
from frontend_api.v1.auth import IsTrustedClient, acting_user, parse_user_header
from frontend_api.v1.message_tree_views import FRONTEND_TREE_VIEWS, TREE_VIEWS, viewer
from frontend_api.v1.tasks import ERROR_RESPONSE

JSON_NULL = {"type": "null"}


def actor(request) -> str:
    named = parse_user_header(request)
    who = f"api_client:{request.auth.id}"
    return f"{who} user:{named[0]}:{named[1]}" if named else who


class MessageListView(APIView):
    """GET /messages/: newest (or oldest) messages matching OA's filters, at most max_count."""

    @extend_schema(
        parameters=[wire.MessageQueryInput],
        responses={200: wire.MessageOut(many=True), 400: ERROR_RESPONSE, 403: ERROR_RESPONSE},
    )
    def get(self, request):
        data = wire.valid_query(wire.MessageQueryInput, request)
        wire.require_user_pair(data)
        bound = queries.KeysetBound
        messages = queries.messages_by_created(
            caller=request.auth,
            where=MessageFilter(
                auth_method=data.get("auth_method"),
                username=data.get("username"),
                api_client_id=data.get("api_client_id"),
                only_roots=data["only_roots"],
                include_deleted=data["allow_deleted"],
                lang=data.get("lang"),
            ),
            limit=data["max_count"],
            descending=data["desc"],
            after=bound(data["start_date"]) if data.get("start_date") else None,
            before=bound(data["end_date"]) if data.get("end_date") else None,
        )
        return Response(wire.render_messages(messages, viewer=viewer(request), caller=request.auth))


class MessageCursorView(APIView):
    """GET /messages/cursor: a keyset page (OA ``MessagePage``) ordered by created_date."""

    @extend_schema(
        parameters=[wire.MessageCursorInput],
        responses={200: wire.MessagePageOut, 400: ERROR_RESPONSE, 403: ERROR_RESPONSE},
    )
    def get(self, request):
        data = wire.valid_query(wire.MessageCursorInput, request)
        wire.require_user_pair(data)
        page = queries.message_page(
            caller=request.auth,
            where=MessageFilter(
                user_id=data.get("user_id"),
                auth_method=data.get("auth_method"),
                username=data.get("username"),
                api_client_id=data.get("api_client_id"),
                only_roots=data["only_roots"],
                include_deleted=data["include_deleted"],
                lang=data.get("lang"),
                search_query=data.get("search_query"),
            ),
            max_count=data["max_count"],
            descending=data["desc"],
            before=wire.parse_cursor(data.get("before")),
            after=wire.parse_cursor(data.get("after")),
            include_user=data["include_user"],
        )
        items = wire.render_messages(
            page.items,
            viewer=viewer(request),
            caller=request.auth,
            include_user=data["include_user"],
        )
        return Response(
            {
                "prev": wire.format_cursor(page.prev),
                "next": wire.format_cursor(page.next),
                "sort_key": "created_date",
                "order": "desc" if data["desc"] else "asc",
                "items": items,
            }
        )


class MessageDetailView(APIView):
    """GET /messages/{id} (any client); DELETE /messages/{id}: soft-delete the message and
    its subtree (trusted clients, 204)."""

    def get_permissions(self):
        return [IsTrustedClient()] if self.request.method == "DELETE" else []

    @extend_schema(responses={200: wire.MessageOut, 404: ERROR_RESPONSE})
    def get(self, request, message_id):
        message = queries.message_by_id(message_id)
        return Response(
            wire.render_messages([message], viewer=viewer(request), caller=request.auth)[0]
        )

    @extend_schema(responses={204: None, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE})
    def delete(self, request, message_id):
        services.delete_message(message_id=message_id, actor=actor(request))
        return Response(status=204)


class MessageTreeStateView(APIView):
    """GET /messages/{id}/tree/state; PUT ?halt=true|false halts or resumes the tree
    (trusted clients; idempotent)."""

    def get_permissions(self):
        return [IsTrustedClient()] if self.request.method == "PUT" else []

    @extend_schema(responses={200: wire.MessageTreeStateOut, 404: ERROR_RESPONSE})
    def get(self, request, message_id):
        return Response(wire.render_tree_state(queries.tree_state(message_id)))

    @extend_schema(
        parameters=[wire.TreeHaltInput],
        request=None,
        responses={200: wire.MessageTreeStateOut, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def put(self, request, message_id):
        data = wire.valid_query(wire.TreeHaltInput, request)
        tree = services.set_tree_halted(
            message_id=message_id, halt=data["halt"], actor=actor(request)
        )
        return Response(wire.render_tree_state(tree))


class MessageUndeleteView(APIView):
    """PUT /messages/{id}/undelete: undelete a message and its ancestors (202, JSON ``null``
    as OA).

    Trusted clients only: OA lets any client call it, but undoing a moderator's delete is
    moderation, as deleting is."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(JSON_NULL, description="JSON null"),
            403: ERROR_RESPONSE,
            404: ERROR_RESPONSE,
        },
    )
    def put(self, request, message_id):
        services.undelete_message(message_id=message_id, actor=actor(request))
        return Response(None, status=202)


class MessageEditView(APIView):
    """POST /messages/{id}/edit: new text, the old one kept in the history (trusted clients).

    Answers the edited message (OA answers an empty 200)."""

    acting_user_field = "user"  # the throttle counts this user (throttling.py)

    permission_classes = [IsTrustedClient]

    @extend_schema(
        request=wire.MessageEditInput,
        responses={200: wire.MessageOut, 400: ERROR_RESPONSE, 403: ERROR_RESPONSE},
    )
    def post(self, request, message_id):
        data = wire.valid_body(wire.MessageEditInput, request)
        with acting_user(request.auth, data["user"]) as editor:
            message = services.edit_message(
                message_id=message_id, editor=editor, new_text=data["new_content"]
            )
        return Response(wire.render_messages([message], viewer=editor, caller=request.auth)[0])


class MessageHistoryView(APIView):
    """GET /messages/{id}/history: every version of the text, oldest first (OA
    ``MessageRevision`` list; empty for a message never edited)."""

    @extend_schema(responses={200: wire.MessageRevisionOut(many=True), 404: ERROR_RESPONSE})
    def get(self, request, message_id):
        who = viewer(request)
        revisions = queries.revision_history(message_id)
        return Response([wire.render_revision(r, viewer=who) for r in revisions])


@extend_schema_view(get=extend_schema(operation_id="messages_revisions_list"))
class MessageRevisionsView(MessageHistoryView):
    """GET /messages/{id}/revisions: the same list as /history."""


class MessageEmojiView(APIView):
    """POST /messages/{id}/emoji: toggle, add or remove the user's emoji (202, the message).

    Any client, on any message, for one of its own users; a red flag queues the message
    for moderators and lets auto moderation look at the tree."""

    acting_user_field = "user"  # the throttle counts this user (throttling.py)

    @extend_schema(
        request=wire.MessageEmojiInput,
        responses={202: wire.MessageOut, 404: ERROR_RESPONSE},
    )
    def post(self, request, message_id):
        data = wire.valid_body(wire.MessageEmojiInput, request)
        with acting_user(request.auth, data["user"]) as user:
            message = services.react_with_emoji(
                message_id=message_id, user=user, emoji=data["emoji"], op=data["op"]
            )
        emojis = selectors.user_emojis(user.id, [message.id])
        body = wire.message_json(message, viewer=user, user_emojis=emojis)
        return Response(body, status=202)


urlpatterns = [
    path("messages/", MessageListView.as_view(), name="messages-list"),
    path("messages/cursor", MessageCursorView.as_view(), name="messages-cursor"),
    path("messages/<uuid:message_id>", MessageDetailView.as_view(), name="messages-detail"),
    path(
        "messages/<uuid:message_id>/tree/state",
        MessageTreeStateView.as_view(),
        name="messages-tree-state",
    ),
    path(
        "messages/<uuid:message_id>/undelete",
        MessageUndeleteView.as_view(),
        name="messages-undelete",
    ),
    path("messages/<uuid:message_id>/edit", MessageEditView.as_view(), name="messages-edit"),
    path(
        "messages/<uuid:message_id>/history", MessageHistoryView.as_view(), name="messages-history"
    ),
    path(
        "messages/<uuid:message_id>/revisions",
        MessageRevisionsView.as_view(),
        name="messages-revisions",
    ),
    path("messages/<uuid:message_id>/emoji", MessageEmojiView.as_view(), name="messages-emoji"),
    *[
        path(f"messages/<uuid:message_id>/{part}", view.as_view(), name=f"messages-{part}")
        for part, view in TREE_VIEWS.items()
    ],
    *[
        path(
            f"frontend_messages/<str:frontend_message_id>{'/' + part if part else ''}",
            view.as_view(),
            name=f"frontend-messages-{part or 'detail'}",
        )
        for part, view in FRONTEND_TREE_VIEWS.items()
    ],
]
