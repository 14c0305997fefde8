"""Grove's own admin endpoints (not in OA): the versioned tree-growth configuration, and
halting or resuming one tree. Trusted clients only."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.trees import growth_config
from backend.trees.core.config import settings_schema
from backend.trees.services.trees import halt_tree, resume_tree
from frontend_api.v1.auth import IsTrustedClient
from frontend_api.v1.strict_fields import StrictCharField, StrictUUIDField
from frontend_api.v1.tasks import ERROR_RESPONSE

TAGS = ["admin"]


def actor_of(request) -> str:
    client = request.auth
    return f"api-client:{client.id} ({client.name})"


def valid_data(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ConfigVersionOutput(serializers.Serializer):
    version = serializers.IntegerField()
    values = serializers.DictField()
    is_active = serializers.BooleanField()
    created_by = StrictCharField()
    comment = StrictCharField()
    created_at = serializers.DateTimeField()


class ConfigOverviewOutput(serializers.Serializer):
    active = ConfigVersionOutput(allow_null=True)
    history = ConfigVersionOutput(many=True)


@extend_schema_field(settings_schema())
class SettingsField(serializers.DictField):
    """Settings by name; the core checks them (``TreeManagerConfig.from_dict``), the document
    states each one's type and range."""


class ConfigChangeInput(serializers.Serializer):
    values = SettingsField()
    comment = StrictCharField(max_length=1024, allow_blank=True, default="")


class ConfigRollbackInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)
    comment = StrictCharField(max_length=1024, allow_blank=True, default="")


class TreeGrowthConfigView(APIView):
    """GET: the active version and the history. PUT: replace all values (missing ones take
    their defaults). PATCH: change some values. A change adds a version; a bad value is a
    422 listing every problem, and nothing is written."""

    permission_classes = [IsTrustedClient]

    @extend_schema(tags=TAGS, responses={200: ConfigOverviewOutput, 403: ERROR_RESPONSE})
    def get(self, request):
        history = growth_config.config_history()
        active = next((row for row in history if row.is_active), None)
        return Response(ConfigOverviewOutput({"active": active, "history": history}).data)

    @extend_schema(
        tags=TAGS,
        request=ConfigChangeInput,
        responses={200: ConfigVersionOutput, 422: ERROR_RESPONSE},
    )
    def put(self, request):
        return self._change(request, replace=True)

    @extend_schema(
        tags=TAGS,
        request=ConfigChangeInput,
        responses={200: ConfigVersionOutput, 422: ERROR_RESPONSE},
    )
    def patch(self, request):
        return self._change(request, replace=False)

    def _change(self, request, *, replace: bool):
        data = valid_data(ConfigChangeInput, request.data)
        row = growth_config.update_config(
            changes=data["values"],
            author=actor_of(request),
            comment=data["comment"],
            replace=replace,
        )
        return Response(ConfigVersionOutput(row).data)


class TreeGrowthConfigRollbackView(APIView):
    """POST /admin/tree_growth_config/rollback {version}: restore an earlier version's values
    (as a new version)."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS,
        request=ConfigRollbackInput,
        responses={200: ConfigVersionOutput, 404: ERROR_RESPONSE},
    )
    def post(self, request):
        data = valid_data(ConfigRollbackInput, request.data)
        row = growth_config.rollback_config(
            version=data["version"], author=actor_of(request), comment=data["comment"]
        )
        return Response(ConfigVersionOutput(row).data)


class TreeStateOutput(serializers.Serializer):
    """OA ``MessageTreeStateResponse``."""

    message_tree_id = StrictUUIDField(source="id")
    state = StrictCharField()
    active = serializers.BooleanField()
    goal_tree_size = serializers.IntegerField()
    max_children_count = serializers.IntegerField()
    max_depth = serializers.IntegerField()
    origin = StrictCharField()


class TreeHaltView(APIView):
    """POST /admin/trees/{tree_id}/halt: stop handing out work on a tree."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: TreeStateOutput, 404: ERROR_RESPONSE, 409: ERROR_RESPONSE},
    )
    def post(self, request, tree_id):
        tree = halt_tree(tree_id=tree_id, actor=actor_of(request))
        return Response(TreeStateOutput(tree).data)


class TreeResumeView(APIView):
    """POST /admin/trees/{tree_id}/resume: a halted tree grows again (or goes back to
    prompt review if it never won the prompt lottery)."""

    permission_classes = [IsTrustedClient]

    @extend_schema(tags=TAGS, request=None, responses={200: TreeStateOutput, 409: ERROR_RESPONSE})
    def post(self, request, tree_id):
        tree = resume_tree(tree_id=tree_id, actor=actor_of(request))
        return Response(TreeStateOutput(tree).data)


urlpatterns = [
    path("admin/tree_growth_config", TreeGrowthConfigView.as_view(), name="admin-config"),
    path(
        "admin/tree_growth_config/rollback",
        TreeGrowthConfigRollbackView.as_view(),
        name="admin-config-rollback",
    ),
    path("admin/trees/<uuid:tree_id>/halt", TreeHaltView.as_view(), name="admin-tree-halt"),
    path("admin/trees/<uuid:tree_id>/resume", TreeResumeView.as_view(), name="admin-tree-resume"),
]
