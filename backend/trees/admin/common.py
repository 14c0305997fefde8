"""What the tree-engine admins share: read-only rows, the moderation permission, the actor."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.http import HttpRequest


def actor_of(request: HttpRequest) -> str:
    """Who a journal entry names for a change made in the Django admin."""
    return f"django-admin:{request.user.get_username()}"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows are shown, never added, edited or deleted through the admin's forms: every
    write has a service (its one door). Actions that call a service declare
    ``permissions=["moderate"]``, which needs the model's Django "change" permission."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")
