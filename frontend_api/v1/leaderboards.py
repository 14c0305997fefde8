"""Leaderboards, troll boards and a user's stats (OA ``leaderboards.py``, ``trollboards.py``
and the stats routes of ``users.py``). Rows come from the periodic recomputation
(backend.stats.services); an untrusted client only sees its own users on the boards."""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import selectors as accounts
from backend.stats import selectors
from backend.stats.models import TimeFrame, UserStats
from backend.stats.scoring import (
    LEADER_COUNT_FIELDS,
    TROLL_FLAG_LABELS,
    TROLL_MEAN_LABELS,
    level_for_score,
)
from backend.stats.services import recompute_user_stats
from frontend_api.v1.auth import IsTrustedClient, parse_user_header
from frontend_api.v1.strict_fields import StrictCharField, StrictUUIDField
from frontend_api.v1.tasks import ERROR_RESPONSE


class TimeFrameInput(serializers.Serializer):
    time_frame = serializers.ChoiceField(choices=TimeFrame.values)


# The path's time frames, stated in the document (another is a 422, ``_time_frame``).
TIME_FRAME_PARAMETER = OpenApiParameter(
    "time_frame", str, OpenApiParameter.PATH, enum=TimeFrame.values
)


def _time_frame(value: str) -> str:
    serializer = TimeFrameInput(data={"time_frame": value})
    serializer.is_valid(raise_exception=True)  # an unknown time frame is OA's 422
    return serializer.validated_data["time_frame"]


def _query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _iso(value):
    return value.isoformat() if value is not None else None


# --- rendering ------------------------------------------------------------------------------


def user_score(user, row: UserStats | None, *, highlighted_id=None) -> dict:
    """OA ``UserScore``: the stats row (zeros when none yet) with the user's identity and
    streak (streaks are read from the user, as OA does)."""
    counts = {name: getattr(row, name) if row else 0 for name in LEADER_COUNT_FIELDS}
    return {
        "rank": row.rank if row else None,
        "user_id": str(user.id),
        "highlighted": highlighted_id is not None and user.id == highlighted_id,
        "username": user.username,
        "auth_method": user.auth_method,
        "display_name": user.display_name,
        "leader_score": row.leader_score if row else 0,
        "level": level_for_score(row.leader_score) if row else 0,
        "base_date": _iso(row.base_date) if row else None,
        "modified_date": _iso(row.modified_date if row else timezone.now()),
        **counts,
        "streak_last_day_date": _iso(user.streak_last_day_date),
        "streak_days": user.streak_days,
        "last_activity_date": _iso(user.last_activity_date),
    }


def leaderboard_json(time_frame: str, rows: list[UserStats], *, highlighted_id=None) -> dict:
    """OA ``LeaderboardStats``."""
    return {
        "time_frame": time_frame,
        "last_updated": _iso(selectors.last_updated(rows) or timezone.now()),
        "leaderboard": [user_score(r.user, r, highlighted_id=highlighted_id) for r in rows],
    }


def troll_score(row) -> dict:
    """OA ``TrollScore`` (OA spells the language-mismatch count ``lang_mismach``)."""
    user = row.user
    flags = {name: getattr(row, name) for name in TROLL_FLAG_LABELS}
    flags["lang_mismach"] = flags.pop("lang_mismatch")
    return {
        "rank": row.rank,
        "user_id": str(user.id),
        "highlighted": False,
        "username": user.username,
        "auth_method": user.auth_method,
        "display_name": user.display_name,
        "last_activity_date": _iso(user.last_activity_date),
        "enabled": user.enabled,
        "deleted": user.deleted,
        "show_on_leaderboard": user.show_on_leaderboard,
        "troll_score": row.troll_score,
        "base_date": _iso(row.base_date),
        "modified_date": _iso(row.modified_date),
        "red_flags": row.red_flags,
        "upvotes": row.upvotes,
        "downvotes": row.downvotes,
        "spam_prompts": row.spam_prompts,
        **{name: getattr(row, name) for name in TROLL_MEAN_LABELS},
        **flags,
    }


# --- schema ---------------------------------------------------------------------------------


class RankedUserOut(serializers.Serializer):
    """What OA's ``UserScore`` and ``TrollScore`` share: who, where on the board, when."""

    rank = serializers.IntegerField(allow_null=True)
    user_id = StrictUUIDField()
    highlighted = serializers.BooleanField()
    username = StrictCharField()
    auth_method = StrictCharField()
    display_name = StrictCharField()
    base_date = serializers.DateTimeField(allow_null=True)
    modified_date = serializers.DateTimeField(allow_null=True)
    last_activity_date = serializers.DateTimeField(allow_null=True)


class UserScoreOut(RankedUserOut):
    leader_score = serializers.IntegerField()
    level = serializers.IntegerField()
    prompts = serializers.IntegerField()
    replies_assistant = serializers.IntegerField()
    replies_prompter = serializers.IntegerField()
    labels_simple = serializers.IntegerField()
    labels_full = serializers.IntegerField()
    rankings_total = serializers.IntegerField()
    rankings_good = serializers.IntegerField()
    accepted_prompts = serializers.IntegerField()
    accepted_replies_assistant = serializers.IntegerField()
    accepted_replies_prompter = serializers.IntegerField()
    reply_ranked_1 = serializers.IntegerField()
    reply_ranked_2 = serializers.IntegerField()
    reply_ranked_3 = serializers.IntegerField()
    streak_last_day_date = serializers.DateTimeField(allow_null=True)
    streak_days = serializers.IntegerField(allow_null=True)


class UserStatsByTimeFrameOut(serializers.Serializer):
    day = UserScoreOut(allow_null=True)
    week = UserScoreOut(allow_null=True)
    month = UserScoreOut(allow_null=True)
    total = UserScoreOut(allow_null=True)


class LeaderboardStatsOut(serializers.Serializer):
    time_frame = StrictCharField()
    last_updated = serializers.DateTimeField()
    leaderboard = UserScoreOut(many=True)


class TrollScoreOut(RankedUserOut):
    enabled = serializers.BooleanField()
    deleted = serializers.BooleanField()
    show_on_leaderboard = serializers.BooleanField()
    troll_score = serializers.IntegerField()
    red_flags = serializers.IntegerField()
    upvotes = serializers.IntegerField()
    downvotes = serializers.IntegerField()
    spam_prompts = serializers.IntegerField()
    quality = serializers.FloatField(allow_null=True)
    humor = serializers.FloatField(allow_null=True)
    toxicity = serializers.FloatField(allow_null=True)
    violence = serializers.FloatField(allow_null=True)
    helpfulness = serializers.FloatField(allow_null=True)
    spam = serializers.IntegerField()
    lang_mismach = serializers.IntegerField()
    not_appropriate = serializers.IntegerField()
    pii = serializers.IntegerField()
    hate_speech = serializers.IntegerField()
    sexual_content = serializers.IntegerField()
    political_content = serializers.IntegerField()


class TrollboardStatsOut(serializers.Serializer):
    time_frame = StrictCharField()
    last_updated = serializers.DateTimeField()
    trollboard = TrollScoreOut(many=True)


class BoardQuery(serializers.Serializer):
    max_count = serializers.IntegerField(min_value=1, max_value=10000, default=100)


class TrollboardQuery(BoardQuery):
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)


class WindowQuery(serializers.Serializer):
    window_size = serializers.IntegerField(min_value=1, max_value=100, default=5)


# --- views ----------------------------------------------------------------------------------


class UserStatsView(APIView):
    """GET /users/{id}/stats: OA ``UserScore`` per time frame."""

    @extend_schema(responses={200: UserStatsByTimeFrameOut, 404: ERROR_RESPONSE})
    def get(self, request, user_id):
        user = accounts.visible_user(client=request.auth, user_id=user_id)
        rows = selectors.user_stats_by_time_frame(user)
        return Response(
            {frame: user_score(user, row, highlighted_id=user.id) for frame, row in rows.items()}
        )


class UserStatsTimeFrameView(APIView):
    """GET /users/{id}/stats/{time_frame}: one OA ``UserScore``."""

    @extend_schema(
        operation_id="users_stats_time_frame",
        parameters=[TIME_FRAME_PARAMETER],
        responses={200: UserScoreOut, 404: ERROR_RESPONSE, 422: ERROR_RESPONSE},
    )
    def get(self, request, user_id, time_frame):
        time_frame = _time_frame(time_frame)
        user = accounts.visible_user(client=request.auth, user_id=user_id)
        row = selectors.user_stats_by_time_frame(user)[time_frame]
        return Response(user_score(user, row, highlighted_id=user.id))


class UserStatsWindowView(APIView):
    """GET /users/{id}/stats/{time_frame}/window: the leaderboard around the user, or null
    when the user is not ranked (hidden, disabled or no stats yet)."""

    @extend_schema(
        parameters=[TIME_FRAME_PARAMETER, WindowQuery],
        responses={200: LeaderboardStatsOut, 404: ERROR_RESPONSE, 422: ERROR_RESPONSE},
    )
    def get(self, request, user_id, time_frame):
        time_frame = _time_frame(time_frame)
        data = _query(WindowQuery, request)
        user = accounts.visible_user(client=request.auth, user_id=user_id)
        rows = selectors.leaderboard_window(
            user=user, time_frame=time_frame, client=request.auth, window_size=data["window_size"]
        )
        if rows is None:
            return JsonResponse(None, safe=False)  # OA answers JSON null
        return Response(leaderboard_json(time_frame, rows, highlighted_id=user.id))


class LeaderboardView(APIView):
    """GET /leaderboards/{time_frame}?max_count=: OA ``LeaderboardStats``; the
    ``X-OASST-USER`` user (which must exist) is highlighted."""

    @extend_schema(
        parameters=[TIME_FRAME_PARAMETER, BoardQuery],
        responses={200: LeaderboardStatsOut, 404: ERROR_RESPONSE, 422: ERROR_RESPONSE},
    )
    def get(self, request, time_frame):
        time_frame = _time_frame(time_frame)
        data = _query(BoardQuery, request)
        named = parse_user_header(request)
        highlighted = None
        if named:
            highlighted = accounts.visible_frontend_user(
                client=request.auth, auth_method=named[0], username=named[1]
            ).id
        rows = selectors.leaderboard(
            time_frame=time_frame, client=request.auth, limit=data["max_count"]
        )
        return Response(leaderboard_json(time_frame, rows, highlighted_id=highlighted))


class LeaderboardUpdateView(APIView):
    """POST /leaderboards/update: rebuild every time frame's leaderboard now (trusted; OA
    answers 204 when done)."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        operation_id="leaderboards_update_all",
        request=None,
        responses={204: None, 403: ERROR_RESPONSE},
    )
    def post(self, request):
        for frame in TimeFrame.values:
            recompute_user_stats(frame)
        return Response(status=204)


class LeaderboardTimeFrameUpdateView(APIView):
    """POST /leaderboards/update/{time_frame}: rebuild one time frame's leaderboard now."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        operation_id="leaderboards_update_time_frame",
        parameters=[TIME_FRAME_PARAMETER],
        request=None,
        responses={204: None, 403: ERROR_RESPONSE, 422: ERROR_RESPONSE},
    )
    def post(self, request, time_frame):
        recompute_user_stats(_time_frame(time_frame))
        return Response(status=204)


class TrollboardView(APIView):
    """GET /trollboards/{time_frame}?max_count=&enabled=: OA ``TrollboardStats`` (trusted)."""

    permission_classes = [IsTrustedClient]

    @extend_schema(
        parameters=[TIME_FRAME_PARAMETER, TrollboardQuery],
        responses={200: TrollboardStatsOut, 403: ERROR_RESPONSE, 422: ERROR_RESPONSE},
    )
    def get(self, request, time_frame):
        time_frame = _time_frame(time_frame)
        data = _query(TrollboardQuery, request)
        rows = selectors.trollboard(
            time_frame=time_frame, limit=data["max_count"], enabled=data["enabled"]
        )
        return Response(
            {
                "time_frame": time_frame,
                "last_updated": _iso(selectors.last_updated(rows) or timezone.now()),
                "trollboard": [troll_score(row) for row in rows],
            }
        )


urlpatterns = [
    path("users/<uuid:user_id>/stats", UserStatsView.as_view(), name="users-stats"),
    path(
        "users/<uuid:user_id>/stats/<str:time_frame>",
        UserStatsTimeFrameView.as_view(),
        name="users-stats-time-frame",
    ),
    path(
        "users/<uuid:user_id>/stats/<str:time_frame>/window",
        UserStatsWindowView.as_view(),
        name="users-stats-window",
    ),
    path("leaderboards/update", LeaderboardUpdateView.as_view(), name="leaderboards-update"),
    path(
        "leaderboards/update/<str:time_frame>",
        LeaderboardTimeFrameUpdateView.as_view(),
        name="leaderboards-update-time-frame",
    ),
    path("leaderboards/<str:time_frame>", LeaderboardView.as_view(), name="leaderboards"),
    path("trollboards/<str:time_frame>", TrollboardView.as_view(), name="trollboards"),
]
