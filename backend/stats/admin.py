"""Statistics in the admin, read-only: every row is derived (rebuilt by the ``grove.stats.*``
jobs from messages, reviews and rankings), so an edit by hand would be silently overwritten and,
until then, show numbers no event supports."""

from django.contrib import admin

from backend.stats.models import CachedStats, TrollStats, UserStats
from backend.trees.admin.common import ReadOnlyAdmin


@admin.register(UserStats)
class UserStatsAdmin(ReadOnlyAdmin):
    list_display = ["user", "time_frame", "leader_score", "rank", "modified_date"]
    list_filter = ["time_frame"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(TrollStats)
class TrollStatsAdmin(ReadOnlyAdmin):
    list_display = ["user", "time_frame", "troll_score", "red_flags", "rank", "modified_date"]
    list_filter = ["time_frame"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(CachedStats)
class CachedStatsAdmin(ReadOnlyAdmin):
    list_display = ["name", "modified_date"]
