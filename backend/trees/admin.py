from django.contrib import admin

from backend.trees.models import (
    FlaggedMessage,
    JournalEntry,
    Message,
    MessageEmoji,
    MessageReaction,
    MessageRevision,
    MessageTree,
    Task,
    TextLabels,
    TreeGrowthConfig,
)


@admin.register(MessageTree)
class MessageTreeAdmin(admin.ModelAdmin):
    list_display = ["id", "state", "lang", "goal_tree_size", "active", "origin", "created_at"]
    list_filter = ["state", "lang", "active"]
    search_fields = ["id"]
    date_hierarchy = "created_at"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "role",
        "lang",
        "depth",
        "children_count",
        "review_count",
        "review_result",
        "ranking_count",
        "rank",
        "deleted",
        "created_at",
    ]
    list_filter = ["role", "lang", "review_result", "deleted", "synthetic"]
    search_fields = ["id", "text", "frontend_message_id"]
    raw_id_fields = ["message_tree", "parent", "user", "task"]
    list_select_related = ["user"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "payload_type", "user", "ack", "done", "skipped", "expiry_date"]
    list_filter = ["payload_type", "done", "skipped", "ack", "collective"]
    search_fields = ["id", "frontend_message_id"]
    raw_id_fields = ["user", "message_tree", "parent_message"]
    list_select_related = ["user"]


@admin.register(TextLabels)
class TextLabelsAdmin(admin.ModelAdmin):
    list_display = ["id", "message", "user", "created_at"]
    raw_id_fields = ["message", "user", "task"]


@admin.register(MessageReaction)
class MessageReactionAdmin(admin.ModelAdmin):
    list_display = ["id", "payload_type", "message", "user", "created_at"]
    list_filter = ["payload_type"]
    raw_id_fields = ["message", "user", "task"]


@admin.register(MessageEmoji)
class MessageEmojiAdmin(admin.ModelAdmin):
    list_display = ["message", "user", "emoji", "created_at"]
    list_filter = ["emoji"]
    raw_id_fields = ["message", "user"]


@admin.register(MessageRevision)
class MessageRevisionAdmin(admin.ModelAdmin):
    list_display = ["id", "message", "user", "created_at"]
    raw_id_fields = ["message", "user"]


@admin.register(FlaggedMessage)
class FlaggedMessageAdmin(admin.ModelAdmin):
    list_display = ["message", "processed", "created_at"]
    list_filter = ["processed"]
    raw_id_fields = ["message"]


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "message_tree_id", "message_id", "actor", "created_at"]
    list_filter = ["event_type"]
    search_fields = ["message_tree_id", "message_id", "user_id"]

    def has_change_permission(self, request, obj=None):
        return False  # the journal is append-only


@admin.register(TreeGrowthConfig)
class TreeGrowthConfigAdmin(admin.ModelAdmin):
    list_display = ["version", "is_active", "created_by", "comment", "created_at"]
    readonly_fields = ["version", "values", "is_active", "created_by", "comment", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # versions are immutable; changes go through update_config
