"""The tree-growth configuration in the admin: versions are immutable rows; "Add" creates a
new version through ``update_config`` and an action rolls back to a selected version."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.utils.html import format_html

from backend.trees import growth_config
from backend.trees.admin.common import actor_of
from backend.trees.admin.config_form import PARAMETER_NAMES, ConfigVersionForm
from backend.trees.admin.parameter_help import grouped
from backend.trees.core.config import ConfigError
from backend.trees.models import TreeGrowthConfig

_SHOWN_FIELDS = ["version", "is_active", "created_by", "comment", "created_at"]


def changed_parameters(values: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    if previous is None:
        return []
    return sorted(k for k in {*values, *previous} if values.get(k) != previous.get(k))


@admin.register(TreeGrowthConfig)
class TreeGrowthConfigAdmin(admin.ModelAdmin):
    form = ConfigVersionForm
    list_display = [*_SHOWN_FIELDS, "changes"]
    list_display_links = ["version"]
    ordering = ["-version"]
    actions = ["rollback_to_selected"]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        previous = TreeGrowthConfig.objects.filter(version__lt=OuterRef("version")).order_by(
            "-version"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(previous_values=Subquery(previous.values("values")[:1], models.JSONField()))
        )

    # Versions are immutable: shown, never edited or deleted.
    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if obj is None:
            # Prefilled with the active version; one fieldset per group of parameters.
            return [
                (None, {"fields": ["comment"]}),
                *((group, {"fields": names}) for group, names in grouped(PARAMETER_NAMES)),
            ]
        return [(None, {"fields": [*_SHOWN_FIELDS, "changes", "values_json"]})]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [] if obj is None else [*_SHOWN_FIELDS, "changes", "values_json"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return growth_config.active_config().to_dict()

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        created = growth_config.update_config(
            changes=form.config_values,
            author=actor_of(request),
            comment=form.cleaned_data.get("comment", ""),
            replace=True,
        )
        # The admin's response (message, redirect, history) names the version the service made.
        obj.pk = created.pk
        obj._state.adding = False
        for name in _SHOWN_FIELDS:
            setattr(obj, name, getattr(created, name))
        obj.values = created.values

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Nothing else to save: the service wrote the version."""

    @admin.display(description="changed vs. previous version")
    def changes(self, obj: TreeGrowthConfig) -> str:
        previous = getattr(obj, "previous_values", None)
        if previous is None:
            return "(first version)"
        changed = changed_parameters(obj.values, previous)
        return ", ".join(changed) if changed else "(no change)"

    @admin.display(description="values")
    def values_json(self, obj: TreeGrowthConfig) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.values, indent=2, sort_keys=True))

    @admin.action(description="Roll back to the selected version", permissions=["add"])
    def rollback_to_selected(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        versions = list(queryset.values_list("version", flat=True)[:2])
        if len(versions) != 1:
            self.message_user(
                request, "Select exactly one version to roll back to.", messages.WARNING
            )
            return
        try:
            created = growth_config.rollback_config(version=versions[0], author=actor_of(request))
        except (growth_config.UnknownConfigVersion, ConfigError) as exc:
            self.message_user(request, f"Rollback refused: {exc}", messages.ERROR)
            return
        self.message_user(
            request,
            f"Version {created.version} is active: the values of version {versions[0]}.",
            messages.SUCCESS,
        )
