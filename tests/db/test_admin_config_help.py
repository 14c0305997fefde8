"""The tree-growth form explains every parameter and groups them; derived statistics are
read-only in the admin."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import reverse

from backend.stats.models import CachedStats, TimeFrame, TrollStats, UserStats
from backend.trees.admin.config_form import ConfigVersionForm
from backend.trees.admin.parameter_help import GROUPS, GROVE_ONLY, PARAMETER_HELP
from backend.trees.core.config import TreeManagerConfig
from tests.builders import make_user

pytestmark = pytest.mark.django_db
PARAMETERS = [f.name for f in dataclasses.fields(TreeManagerConfig)]


def add_form(admin_client):
    response = admin_client.get(reverse("admin:trees_treegrowthconfig_add"))
    assert response.status_code == 200
    return response.context["adminform"]


@pytest.mark.parametrize("name", PARAMETERS)
def test_every_parameter_field_says_what_it_does_its_unit_oa_default_and_trade_off(name):
    help_text = ConfigVersionForm.base_fields[name].help_text
    entry = PARAMETER_HELP[name]
    assert len(entry.does) >= 30, f"{name}: say what it does"
    assert f"Unit: {entry.unit}." in help_text
    assert "Default: " in help_text and "Open-Assistant" in help_text
    assert "Trade-off: " in help_text and len(entry.trade_off) >= 30


def test_grove_defaults_are_oa_defaults_except_for_grove_only_parameters():
    defaults = TreeManagerConfig()
    grove_only = {n for n, entry in PARAMETER_HELP.items() if entry.oa_default is GROVE_ONLY}
    assert grove_only == {
        "min_prompt_quality",
        "min_reply_quality_for_extension",
        "min_tree_quality",
        # the adaptive policies (core.sequential); their switches default to OA's fixed policy
        "review_policy",
        "min_reviews",
        "max_reviews",
        "review_confidence",
        "review_prior_acceptable",
        "reviewer_reliability",
        "reviewer_prior_sensitivity",
        "reviewer_prior_specificity",
        "author_reliability",
        "max_author_prior",
        "always_approver_prior",
        "capped_specificity_prior",
        "first_review_min_informativeness",
        "ranking_policy",
        "min_rankings",
        "max_rankings",
        "ranking_agreement",
        "selection_policy",
    }
    assert defaults.review_policy == "fixed" and defaults.ranking_policy == "fixed"
    assert defaults.selection_policy == "fixed"
    for name in set(PARAMETER_HELP) - grove_only:
        assert PARAMETER_HELP[name].oa_default == getattr(defaults, name), name


def test_admin_help_quotes_the_adaptive_settings_bench_measures_as_grove():
    """The admin's measured recommendation for sequential review (review_confidence's
    trade-off) and for routing name the settings of the benchmark's ``grove`` preset, the
    configuration bench/README.md measures against OA's policy."""
    from bench.label_efficiency import POLICIES

    grove = POLICIES["grove"]
    routing = grove["first_review_min_informativeness"]
    measured = PARAMETER_HELP["review_confidence"].trade_off
    assert f"{grove['review_confidence']} with min_reviews {grove['min_reviews']}" in measured
    assert f"first_review_min_informativeness {routing}" in measured
    assert f"{routing} with sequential review" in (
        PARAMETER_HELP["first_review_min_informativeness"].trade_off
    )


def test_help_describes_no_parameter_that_does_not_exist():
    assert set(PARAMETER_HELP) == set(PARAMETERS)


def test_form_groups_every_parameter_once_in_named_fieldsets(admin_client):
    fieldsets = [(fs.name, list(fs.fields)) for fs in add_form(admin_client)]
    grouped = [(name, fields) for name, fields in fieldsets if name in GROUPS]
    assert [name for name, _ in grouped] == list(GROUPS)
    shown = [field for _, fields in grouped for field in fields]
    assert sorted(shown) == sorted(PARAMETERS)
    assert fieldsets[0] == (None, ["comment"])


def stats_rows():
    user = make_user()
    return [
        UserStats.objects.create(user=user, time_frame=TimeFrame.DAY, leader_score=7),
        TrollStats.objects.create(user=user, time_frame=TimeFrame.DAY, troll_score=3),
        CachedStats.objects.create(name="overview", stats={"messages": 1}),
    ]


@pytest.mark.parametrize("model", [UserStats, TrollStats, CachedStats])
def test_superuser_cannot_add_derived_stats(admin_client, model):
    opts = model._meta
    assert admin_client.get(reverse(f"admin:stats_{opts.model_name}_add")).status_code == 403
    assert admin_client.post(reverse(f"admin:stats_{opts.model_name}_add"), {}).status_code == 403


def test_superuser_can_view_but_not_change_or_delete_derived_stats(admin_client):
    for row in stats_rows():
        opts = row._meta
        change = reverse(f"admin:stats_{opts.model_name}_change", args=[row.pk])
        page = admin_client.get(change)
        assert page.status_code == 200
        assert page.context["has_change_permission"] is False
        assert not page.context["adminform"].form.fields, "no editable field"
        before = model_values(row)
        assert admin_client.post(change, {"name": "edited"}).status_code == 403
        delete = reverse(f"admin:stats_{opts.model_name}_delete", args=[row.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert model_values(row) == before


def test_stats_list_pages_offer_no_add_or_delete(admin_client):
    stats_rows()
    for model in (UserStats, TrollStats, CachedStats):
        opts = model._meta
        page = admin_client.get(reverse(f"admin:stats_{opts.model_name}_changelist"))
        assert page.status_code == 200
        assert page.context["has_add_permission"] is False
        assert page.context["action_form"] is None, "no action, so no bulk delete"


def model_values(row) -> dict:
    return type(row).objects.filter(pk=row.pk).values().get()
