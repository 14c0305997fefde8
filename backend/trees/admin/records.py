"""Admins for the rows tasks and interactions leave behind: shown, never edited here."""

from __future__ import annotations

from django.contrib import admin, messages

from backend.trees.admin.common import ReadOnlyAdmin, actor_of
from backend.trees.models import (
    FlaggedMessage,
    JournalEntry,
    MessageEmoji,
    MessageReaction,
    MessageRevision,
    ReviewerReliability,
    Task,
    TextLabels,
)
from backend.trees.services.moderation import mark_flag_processed


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["id", "payload_type", "user", "ack", "done", "skipped", "expiry_date"]
    list_filter = ["payload_type", "done", "skipped", "ack", "collective"]
    search_fields = ["id", "frontend_message_id"]
    raw_id_fields = ["user", "message_tree", "parent_message"]
    list_select_related = ["user"]


@admin.register(ReviewerReliability)
class ReviewerReliabilityAdmin(ReadOnlyAdmin):
    """Each reviewer's estimated skill (estimate_reviewer_reliability): low specificity or
    sensitivity near 1 - specificity marks a reviewer whose verdicts carry no information
    (a spammer, or one who always answers the same); review_policy=sequential gives them
    no weight. author_prior: how likely their next message is acceptable before review, from
    their authored messages (low marks a spam writer; author_reliability).
    disapprovals: their "not acceptable" verdicts; a long run of reviews with none marks a
    reviewer who may approve everything (always_approver_prior)."""

    list_display = ["user", *ReviewerReliability.ESTIMATED_FIELDS]
    ordering = ["specificity"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__display_name"]


@admin.register(TextLabels)
class TextLabelsAdmin(ReadOnlyAdmin):
    list_display = ["id", "message", "user", "created_at"]
    raw_id_fields = ["message", "user", "task"]
    list_select_related = ["message", "user"]


@admin.register(MessageReaction)
class MessageReactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "payload_type", "message", "user", "created_at"]
    list_filter = ["payload_type"]
    raw_id_fields = ["message", "user", "task"]
    list_select_related = ["message", "user"]


@admin.register(MessageEmoji)
class MessageEmojiAdmin(ReadOnlyAdmin):
    list_display = ["message", "user", "emoji", "created_at"]
    list_filter = ["emoji"]
    raw_id_fields = ["message", "user"]
    list_select_related = ["message", "user"]


@admin.register(MessageRevision)
class MessageRevisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "message", "user", "created_at"]
    raw_id_fields = ["message", "user"]
    list_select_related = ["message", "user"]


@admin.register(FlaggedMessage)
class FlaggedMessageAdmin(ReadOnlyAdmin):
    list_display = ["message", "processed", "created_at"]
    list_filter = ["processed"]
    raw_id_fields = ["message"]
    list_select_related = ["message"]
    actions = ["mark_processed"]

    @admin.action(description="Mark selected flags processed", permissions=["moderate"])
    def mark_processed(self, request, queryset):
        ids = list(queryset.filter(processed=False).values_list("message_id", flat=True))
        for message_id in ids:
            mark_flag_processed(message_id=message_id, actor=actor_of(request))
        self.message_user(request, f"{len(ids)} flag(s) marked processed.", messages.SUCCESS)


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    """The journal is append-only: services write it, nobody edits it."""

    list_display = ["id", "event_type", "message_tree_id", "message_id", "actor", "created_at"]
    list_filter = ["event_type"]
    search_fields = ["message_tree_id", "message_id", "user_id", "actor"]
