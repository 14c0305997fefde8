"""Messages in the admin: read-only rows; moderators soft-delete a message with its subtree
or undelete it through the message services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.trees.admin.common import ReadOnlyAdmin, actor_of
from backend.trees.errors import TreeEngineError
from backend.trees.models import Message
from backend.trees.services.messages import delete_message, undelete_message


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
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
    actions = ["delete_with_subtree", "undelete_selected"]

    @admin.action(description="Soft-delete with subtree", permissions=["moderate"])
    def delete_with_subtree(self, request: HttpRequest, queryset: QuerySet) -> None:
        # Shallowest first: deleting a parent also deletes a selected child, which is skipped.
        self._apply(request, queryset, delete_message, deleted=False, verb="deleted")

    @admin.action(description="Undelete", permissions=["moderate"])
    def undelete_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        # Deepest first: undeleting a message also undeletes its selected ancestors.
        self._apply(request, queryset, undelete_message, deleted=True, verb="undeleted")

    def _apply(self, request, queryset, service, *, deleted: bool, verb: str) -> None:
        order = "depth" if not deleted else "-depth"
        ids = list(queryset.filter(deleted=deleted).order_by(order).values_list("id", flat=True))
        changed, skipped, failed = 0, 0, []
        for message_id in ids:
            # An earlier call of this action may have changed it already.
            if not Message.objects.filter(id=message_id, deleted=deleted).exists():
                skipped += 1
                continue
            try:
                changed += service(message_id=message_id, actor=actor_of(request))
            except TreeEngineError as exc:
                failed.append(f"{message_id}: {exc}")
        self.message_user(
            request,
            f"{len(ids) - skipped - len(failed)} selected message(s) {verb}, "
            f"{changed} message(s) changed in all.",
            messages.SUCCESS,
        )
        if failed:
            self.message_user(request, f"Not {verb}: {'; '.join(failed)}", messages.WARNING)
