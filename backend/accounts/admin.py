from django.contrib import admin

from backend.accounts.models import ApiClient, User


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "key_id", "enabled", "trusted", "frontend_type", "created_at"]
    list_filter = ["enabled", "trusted", "frontend_type"]
    search_fields = ["name", "key_id", "admin_email"]
    readonly_fields = ["id", "key_id", "created_at"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = [
        "display_name",
        "auth_method",
        "username",
        "api_client",
        "enabled",
        "deleted",
        "show_on_leaderboard",
        "last_activity_date",
    ]
    list_filter = ["auth_method", "enabled", "deleted", "show_on_leaderboard", "api_client"]
    search_fields = ["username", "display_name", "id"]
    readonly_fields = ["id", "created_at"]
    list_select_related = ["api_client"]
