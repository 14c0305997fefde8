"""/api/v1/stats/ (OA ``stats.py``): live system and tree-manager counts (trusted clients),
cached statistics (any client) and their recomputation (trusted)."""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.stats import selectors
from backend.stats.cached_services import CachedStatsName
from backend.stats.services import update_cached_stats
from frontend_api.v1.auth import IsTrustedClient
from frontend_api.v1.strict_fields import StrictCharField, StrictUUIDField
from frontend_api.v1.tasks import ERROR_RESPONSE


class StatsSystemOut(serializers.Serializer):
    """OA ``SystemStats``."""

    all = serializers.IntegerField()
    active = serializers.IntegerField()
    active_by_lang = serializers.DictField(child=serializers.IntegerField())
    deleted = serializers.IntegerField()
    message_trees = serializers.IntegerField()


class TreeMessageCountOut(serializers.Serializer):
    """OA ``TreeMessageCountStats``."""

    message_tree_id = StrictUUIDField()
    state = StrictCharField()
    depth = serializers.IntegerField()
    oldest = serializers.DateTimeField()
    youngest = serializers.DateTimeField()
    count = serializers.IntegerField()
    goal_tree_size = serializers.IntegerField()


class TreeManagerStatsOut(serializers.Serializer):
    """OA ``TreeManagerStats``."""

    state_counts = serializers.DictField(child=serializers.IntegerField())
    message_counts = TreeMessageCountOut(many=True)


class CachedStatsOut(serializers.Serializer):
    """OA ``CachedStatsResponse``."""

    name = StrictCharField()
    last_updated = serializers.DateTimeField()
    stats = serializers.JSONField()


class AllCachedStatsOut(serializers.Serializer):
    """OA ``AllCachedStatsResponse``."""

    stats_by_name = serializers.DictField(child=CachedStatsOut())


class MessageCountsQuery(serializers.Serializer):
    only_active = serializers.BooleanField(default=True)


class CachedStatsNameInput(serializers.Serializer):
    name = serializers.ChoiceField(choices=[n.value for n in CachedStatsName])


def _message_counts(only_active: bool) -> list[dict]:
    return TreeMessageCountOut(
        [asdict(row) for row in selectors.tree_message_counts(only_active=only_active)],
        many=True,
    ).data


class SystemStatsView(APIView):
    """GET /stats/: message counts over the whole database."""

    permission_classes = [IsTrustedClient]

    @extend_schema(responses={200: StatsSystemOut, 403: ERROR_RESPONSE})
    def get(self, request):
        return Response(StatsSystemOut(asdict(selectors.system_stats())).data)


class TreeStateCountsView(APIView):
    """GET /stats/tree_manager/state_counts: trees per state."""

    permission_classes = [IsTrustedClient]

    @extend_schema(responses={200: dict[str, int], 403: ERROR_RESPONSE})
    def get(self, request):
        return Response(selectors.tree_counts_by_state())


class TreeMessageCountsView(APIView):
    """GET /stats/tree_manager/message_counts?only_active=: live messages per tree."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        parameters=[MessageCountsQuery],
        responses={200: TreeMessageCountOut(many=True), 403: ERROR_RESPONSE},
    )
    def get(self, request):
        query = MessageCountsQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        return Response(_message_counts(query.validated_data["only_active"]))


class TreeManagerStatsView(APIView):
    """GET /stats/tree_manager: state counts and the active trees' message counts."""

    permission_classes = [IsTrustedClient]

    @extend_schema(responses={200: TreeManagerStatsOut, 403: ERROR_RESPONSE})
    def get(self, request):
        return Response(
            {
                "state_counts": selectors.tree_counts_by_state(),
                "message_counts": _message_counts(True),
            }
        )


def _cached_json(row) -> dict:
    shape = {"name": row.name, "last_updated": row.modified_date, "stats": row.stats}
    return CachedStatsOut(shape).data


class AllCachedStatsView(APIView):
    """GET /stats/cached: every cached statistics document by name."""

    @extend_schema(operation_id="stats_cached_all", responses={200: AllCachedStatsOut})
    def get(self, request):
        rows = selectors.all_cached_stats()
        return Response({"stats_by_name": {row.name: _cached_json(row) for row in rows}})


class CachedStatsView(APIView):
    """GET /stats/cached/{name}: one document (400, code 6000, until first computed)."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "name", str, OpenApiParameter.PATH, enum=[n.value for n in CachedStatsName]
            )
        ],
        responses={200: CachedStatsOut, 400: ERROR_RESPONSE, 422: ERROR_RESPONSE},
    )
    def get(self, request, name):
        valid = CachedStatsNameInput(data={"name": name})
        valid.is_valid(raise_exception=True)
        return Response(_cached_json(selectors.cached_stats(valid.validated_data["name"])))


class CachedStatsUpdateView(APIView):
    """POST /stats/cached/update: recompute every cached document now (trusted)."""

    permission_classes = [IsTrustedClient]

    @extend_schema(request=None, responses={204: None, 403: ERROR_RESPONSE})
    def post(self, request):
        update_cached_stats()
        return Response(status=204)


urlpatterns = [
    path("stats/", SystemStatsView.as_view(), name="stats-system"),
    path("stats/tree_manager", TreeManagerStatsView.as_view(), name="stats-tree-manager"),
    path(
        "stats/tree_manager/state_counts",
        TreeStateCountsView.as_view(),
        name="stats-tree-state-counts",
    ),
    path(
        "stats/tree_manager/message_counts",
        TreeMessageCountsView.as_view(),
        name="stats-tree-message-counts",
    ),
    path("stats/cached", AllCachedStatsView.as_view(), name="stats-cached"),
    path("stats/cached/update", CachedStatsUpdateView.as_view(), name="stats-cached-update"),
    path("stats/cached/<str:name>", CachedStatsView.as_view(), name="stats-cached-name"),
]
