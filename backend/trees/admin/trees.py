"""Message trees in the admin: inspect one (outline and journal), halt or resume trees, and
download selected trees in Open-Assistant's export format."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from backend.trees.admin.common import ReadOnlyAdmin, actor_of
from backend.trees.admin.outline import tree_journal, tree_outline
from backend.trees.core.lifecycle import InvalidTransition
from backend.trees.errors import TreeEngineError
from backend.trees.export import ExportFilter, iter_tree_lines
from backend.trees.models import MessageTree
from backend.trees.services.trees import halt_tree, resume_tree

EXPORT_CONTENT_TYPE = "application/jsonl; charset=utf-8"


@admin.register(MessageTree)
class MessageTreeAdmin(ReadOnlyAdmin):
    list_display = ["id", "state", "lang", "goal_tree_size", "active", "origin", "created_at"]
    list_filter = ["state", "lang", "active"]
    search_fields = ["id"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "state",
        "active",
        "lang",
        "origin",
        "goal_tree_size",
        "max_depth",
        "max_children_count",
        "won_prompt_lottery_date",
        "created_at",
        "updated_at",
        "outline",
        "journal",
    ]
    readonly_fields = ["outline", "journal"]
    actions = ["halt_selected", "resume_selected", "export_selected"]

    @admin.display(description="messages")
    def outline(self, obj: MessageTree):
        return tree_outline(obj.id)

    @admin.display(description="journal")
    def journal(self, obj: MessageTree):
        return tree_journal(obj.id)

    @admin.action(description="Halt selected trees", permissions=["moderate"])
    def halt_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move_each(request, queryset, halt_tree, "halted")

    @admin.action(description="Resume selected trees", permissions=["moderate"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move_each(request, queryset, resume_tree, "resumed")

    def _move_each(self, request: HttpRequest, queryset: QuerySet, service, done: str) -> None:
        """Call ``service`` per tree; a tree whose state does not allow it is reported, and
        the others still move (each is its own transaction)."""
        moved, refused = 0, []
        for tree_id, state in queryset.order_by("created_at").values_list("id", "state"):
            try:
                service(tree_id=tree_id, actor=actor_of(request))
            except (InvalidTransition, TreeEngineError) as exc:
                refused.append(f"{tree_id} ({state}: {exc})")
            else:
                moved += 1
        if moved:
            self.message_user(request, f"{moved} tree(s) {done}.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not {done}: {'; '.join(refused)}", messages.WARNING)

    @admin.action(description="Export selected trees (OA JSON lines)", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
        """Every state, deleted messages left out (the export's default), streamed."""
        tree_ids = tuple(str(i) for i in queryset.values_list("id", flat=True))
        lines = iter_tree_lines(filters=ExportFilter(states=(), tree_ids=tree_ids))
        response = StreamingHttpResponse(
            (line + "\n" for line in lines), content_type=EXPORT_CONTENT_TYPE
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="grove-trees-{stamp}.jsonl"'
        return response
