"""Reads of a message's tree, by message id (/messages/{id}/...) or by the calling client's
frontend message id (/frontend_messages/{id}/...): conversation, tree, children,
descendants, longest conversation, the parent with most children.

Each view reads the whole tree in one query (``message_queries.tree_of_*``) and cuts the
part it answers; the viewer's emojis are one more query. Read scoping: see messages.py.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.trees import message_queries as queries
from backend.trees import selectors
from backend.trees.message_queries import TreeView
from frontend_api.v1 import message_serializers as wire
from frontend_api.v1.auth import parse_user_header
from frontend_api.v1.protocol import conversation_message
from frontend_api.v1.tasks import ERROR_RESPONSE


def viewer(request):
    """The ``X-OASST-USER`` user of the calling client, if it exists (reads create no one)."""
    named = parse_user_header(request)
    return queries.client_user(request.auth, *named) if named else None


class _TreeRead(APIView):
    """GET a part of the tree holding the named message; subclasses say which part."""

    def get(self, request, message_id=None, frontend_message_id=None):
        if frontend_message_id is not None:
            wire.valid_path_text(frontend_message_id=frontend_message_id)
            tree = queries.tree_of_frontend_message(request.auth, frontend_message_id)
        else:
            tree = queries.tree_of_message(message_id)
        return Response(self.render(tree, request, viewer(request)))

    def render(self, tree: TreeView, request, who) -> dict | list:
        raise NotImplementedError


def _schema(response, **extra):
    return extend_schema_view(
        get=extend_schema(responses={200: response, 404: ERROR_RESPONSE}, **extra)
    )


@_schema(wire.ConversationOut)
class ConversationView(_TreeRead):
    """The conversation from the tree's prompt down to the message."""

    def render(self, tree, request, who):
        return wire.render_conversation(tree.conversation(), viewer=who)


@_schema(wire.MessageTreeOut, parameters=[wire.MessageTreeQueryInput])
class TreeMessagesView(_TreeRead):
    """Every message of the tree (?include_spam=true: not only accepted ones;
    ?include_deleted=false)."""

    def render(self, tree, request, who):
        data = wire.valid_query(wire.MessageTreeQueryInput, request)
        messages = tree.accepted(
            include_spam=data["include_spam"], include_deleted=data["include_deleted"]
        )
        return wire.render_tree(
            tree.anchor.message_tree_id, messages, viewer=who, caller=request.auth
        )


@_schema(wire.MessageTreeOut)
class FrontendTreeMessagesView(_TreeRead):
    """The accepted, live messages of the tree (OA's frontend_messages default)."""

    def render(self, tree, request, who):
        messages = tree.accepted()
        return wire.render_tree(
            tree.anchor.message_tree_id, messages, viewer=who, caller=request.auth
        )


@_schema(wire.MessageOut(many=True))
class ChildrenView(_TreeRead):
    """The message's live replies, reviewed or not."""

    accepted_only = False

    def render(self, tree, request, who):
        children = tree.children(accepted_only=self.accepted_only)
        return wire.render_messages(children, viewer=who, caller=request.auth)


class FrontendChildrenView(ChildrenView):
    """The message's accepted, live replies (OA's frontend_messages default)."""

    accepted_only = True


@_schema(wire.MessageTreeOut)
class DescendantsView(_TreeRead):
    """The subtree below the message (without it), depth first; ``id`` is the message's."""

    def render(self, tree, request, who):
        return wire.render_tree(tree.anchor.id, tree.descendants(), viewer=who, caller=request.auth)


@_schema(wire.ConversationOut)
class LongestConversationView(_TreeRead):
    """The conversation down to the deepest accepted, live message of the tree."""

    def render(self, tree, request, who):
        return wire.render_conversation(tree.longest_conversation(), viewer=who)


@_schema(wire.MessageTreeOut)
class MaxChildrenView(_TreeRead):
    """The accepted message with most replies, then its accepted replies; ``id`` is its id."""

    def render(self, tree, request, who):
        parent, children = tree.max_children()
        return wire.render_tree(parent.id, [parent, *children], viewer=who, caller=request.auth)


@_schema(wire.ConversationMessageOut)
class FrontendMessageView(_TreeRead):
    """The message itself (OA ``ConversationMessage``)."""

    def render(self, tree, request, who):
        emojis = selectors.user_emojis(who.id, [tree.anchor.id]) if who else {}
        return conversation_message(tree.anchor, viewer=who, user_emojis=emojis)


TREE_VIEWS = {
    "conversation": ConversationView,
    "tree": TreeMessagesView,
    "children": ChildrenView,
    "descendants": DescendantsView,
    "longest_conversation_in_tree": LongestConversationView,
    "max_children_in_tree": MaxChildrenView,
}
FRONTEND_TREE_VIEWS = {
    "": FrontendMessageView,
    "conversation": ConversationView,
    "tree": FrontendTreeMessagesView,
    "children": FrontendChildrenView,
    "descendants": DescendantsView,
    "longest_conversation_in_tree": LongestConversationView,
    "max_children_in_tree": MaxChildrenView,
}
