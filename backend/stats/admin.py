from django.contrib import admin

from backend.stats.models import CachedStats, TrollStats, UserStats


@admin.register(UserStats)
class UserStatsAdmin(admin.ModelAdmin):
    list_display = ["user", "time_frame", "leader_score", "rank", "modified_date"]
    list_filter = ["time_frame"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(TrollStats)
class TrollStatsAdmin(admin.ModelAdmin):
    list_display = ["user", "time_frame", "troll_score", "red_flags", "rank", "modified_date"]
    list_filter = ["time_frame"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(CachedStats)
class CachedStatsAdmin(admin.ModelAdmin):
    list_display = ["name", "modified_date"]
