"""The operations console (``/console/``): pages for staff users, drawn with Django templates.

Staff only (a Django admin login; anyone else is sent to the admin's login page). Changes go
through the services the admin uses, with the same Django permissions: a new configuration
or a rollback needs "add tree growth config", halting, resuming and deleting need "change
message tree" / "change message". Each change is journaled by its service, naming the actor
``console:<username>``. The live panels come over ``ws/console/`` (``frontend_api.ws.console``).
"""

from __future__ import annotations

import hashlib
import json
import uuid

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View

from backend.console import selectors
from backend.console.config_diff import config_diff
from backend.console.trees import tree_detail
from backend.trees import growth_config
from backend.trees.admin.config_form import PARAMETER_NAMES, ConfigVersionForm
from backend.trees.admin.parameter_help import grouped
from backend.trees.core.config import ConfigError
from backend.trees.errors import TreeEngineError
from backend.trees.services.messages import delete_message, set_tree_halted

CONFIG_PERMISSION = "trees.add_treegrowthconfig"
TREE_PERMISSION = "trees.change_messagetree"
MESSAGE_PERMISSION = "trees.change_message"
DEFAULT_CHART_HOURS = 6


def actor_of(request: HttpRequest) -> str:
    return f"console:{request.user.get_username()}"


def proposal_digest(values: dict) -> str:
    """Names the values a preview showed, so "Save" saves exactly what was previewed."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"this needs the {permission} permission")


@method_decorator(staff_member_required, name="dispatch")
class ConsoleView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "console/index.html",
            {"overview": selectors.overview(), "chart_hours": DEFAULT_CHART_HOURS},
        )


@method_decorator(staff_member_required, name="dispatch")
class OverviewView(View):
    """The live panels' figures as JSON (what ``ws/console/`` pushes, without latency)."""

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(selectors.overview())


@method_decorator(staff_member_required, name="dispatch")
class SeriesView(View):
    """Snapshots and config-version markers for the charts: ``?hours=`` (1 to a week)."""

    def get(self, request: HttpRequest) -> JsonResponse:
        raw = request.GET.get("hours", str(DEFAULT_CHART_HOURS))
        try:
            series = selectors.chart_series(hours=int(raw))
        except ValueError:
            return JsonResponse(
                {"error": f"hours must be a whole number from 1 to {selectors.MAX_SERIES_HOURS}"},
                status=400,
            )
        return JsonResponse(series)


@method_decorator(staff_member_required, name="dispatch")
class ConfigView(View):
    """The configuration form: "Preview" shows the diff against the active version, "Save"
    (offered with the diff) activates it, unless another version became active meanwhile."""

    template = "console/config.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = ConfigVersionForm(initial=growth_config.active_config().to_dict())
        return self.page(request, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, CONFIG_PERMISSION)
        form = ConfigVersionForm(data=request.POST)
        if not form.is_valid():
            return self.page(request, form, status=400)
        active = growth_config.active_version()
        active_number = active.version if active is not None else 0
        diff = config_diff(form.active.to_dict(), form.config_values, PARAMETER_NAMES)
        preview = {
            "diff": diff,
            "base_version": active_number,
            "proposal": proposal_digest(form.config_values),
        }
        if request.POST.get("action") != "save":
            return self.page(request, form, **preview)
        if request.POST.get("base_version") != str(active_number):
            form.add_error(
                None,
                f"version {active_number} became active since the preview: check the "
                "difference against it and save again",
            )
            return self.page(request, form, status=409, **preview)
        if request.POST.get("proposal") != preview["proposal"]:
            form.add_error(
                None, "the values changed since the preview: check the difference and save again"
            )
            return self.page(request, form, status=409, **preview)
        if not diff:
            form.add_error(None, "nothing changed: these are the active version's values")
            return self.page(request, form, status=400)
        try:
            created = growth_config.update_config(
                changes=form.config_values,
                author=actor_of(request),
                comment=form.cleaned_data.get("comment", ""),
                replace=True,
            )
        except ConfigError as exc:
            form.add_error(None, str(exc))
            return self.page(request, form, status=400)
        changed = ", ".join(row["name"] for row in diff)
        messages.success(request, f"Version {created.version} is active ({changed}).")
        return redirect("console-config")

    def page(self, request: HttpRequest, form, *, status: int = 200, **extra) -> HttpResponse:
        groups = [
            (group, [form[name] for name in names]) for group, names in grouped(PARAMETER_NAMES)
        ]
        active = growth_config.active_version()
        context = {
            "form": form,
            "groups": groups,
            "active": active,
            "history": rollback_diffs(active, growth_config.config_history()[:50]),
            "can_change": request.user.has_perm(CONFIG_PERMISSION),
            **extra,
        }
        return render(request, self.template, context, status=status)


def rollback_diffs(active, versions: list) -> list[tuple]:
    """``(version, diff)`` per version: what rolling back to it would change against the
    active version (None for the active one itself)."""
    current = growth_config.with_defaults(active.values if active is not None else {})
    return [
        (
            version,
            None
            if version.is_active
            else config_diff(current, growth_config.with_defaults(version.values), PARAMETER_NAMES),
        )
        for version in versions
    ]


@method_decorator(staff_member_required, name="dispatch")
class RollbackView(View):
    """Make an earlier version's values active again (the history table's buttons, each
    shown with its difference against the active version): refused when another version
    became active since the page showed it (``base_version``), or when nothing would change."""

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, CONFIG_PERMISSION)
        try:
            version = int(request.POST.get("version", ""))
            base = int(request.POST.get("base_version", ""))
        except ValueError:
            messages.error(
                request, "Rollback refused: name the version and the active version it replaces."
            )
            return redirect("console-config")
        active = growth_config.active_version()
        target = growth_config.config_version(version)
        if target is None:
            messages.error(request, f"Rollback refused: no configuration version {version}")
            return redirect("console-config")
        unchanged = active is not None and not config_diff(
            growth_config.with_defaults(active.values), growth_config.with_defaults(target.values)
        )
        if unchanged and active.version == base:
            messages.error(
                request, f"Rollback refused: version {version} has the active version's values"
            )
            return redirect("console-config")
        try:
            created = growth_config.rollback_config(
                version=version, author=actor_of(request), base_version=base
            )
        except growth_config.StaleConfigVersion as exc:
            messages.error(
                request,
                f"Rollback refused: {exc} the page showed the difference: check it and roll "
                "back again.",
            )
        except (growth_config.UnknownConfigVersion, ConfigError) as exc:
            messages.error(request, f"Rollback refused: {exc}")
        else:
            messages.success(
                request, f"Version {created.version} is active: the values of version {version}."
            )
        return redirect("console-config")


@method_decorator(staff_member_required, name="dispatch")
class TreeLookupView(View):
    """``?id=<tree or message id>``: the tree view of that tree."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            tree_id = uuid.UUID(request.GET.get("id", "").strip())
        except ValueError:
            messages.error(request, "A tree id is a UUID (a tree's id is its prompt's id).")
            return redirect("console")
        return redirect("console-tree", tree_id=tree_id)


@method_decorator(staff_member_required, name="dispatch")
class TreeView(View):
    def get(self, request: HttpRequest, tree_id: uuid.UUID) -> HttpResponse:
        detail = tree_detail(tree_id)
        if detail is None:
            raise Http404(f"tree {tree_id} not found")
        return render(
            request,
            "console/tree.html",
            {
                "detail": detail,
                "halted": detail.tree.state == "halted_by_moderator",
                "can_moderate_tree": request.user.has_perm(TREE_PERMISSION),
                "can_delete": request.user.has_perm(MESSAGE_PERMISSION),
            },
        )


@method_decorator(staff_member_required, name="dispatch")
class TreeStateView(View):
    """Halt or resume a tree (``set_tree_halted``: idempotent; resuming advances the tree)."""

    def post(self, request: HttpRequest, tree_id: uuid.UUID, action: str) -> HttpResponse:
        require(request, TREE_PERMISSION)
        try:
            tree = set_tree_halted(
                message_id=tree_id, halt=action == "halt", actor=actor_of(request)
            )
        except (TreeEngineError, ValueError) as exc:
            messages.error(request, f"Refused: {exc}")
        else:
            messages.success(request, f"The tree is {tree.state}.")
        return redirect(reverse("console-tree", kwargs={"tree_id": tree_id}))


@method_decorator(staff_member_required, name="dispatch")
class MessageDeleteView(View):
    """Soft-delete a message of the tree with its subtree (``delete_message``)."""

    def post(self, request: HttpRequest, tree_id: uuid.UUID, message_id: uuid.UUID) -> HttpResponse:
        require(request, MESSAGE_PERMISSION)
        try:
            changed = delete_message(message_id=message_id, actor=actor_of(request))
        except TreeEngineError as exc:
            messages.error(request, f"Refused: {exc}")
        else:
            messages.success(request, f"Deleted {changed} message(s).")
        return redirect(reverse("console-tree", kwargs={"tree_id": tree_id}))
