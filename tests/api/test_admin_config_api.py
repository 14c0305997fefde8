"""Grove's own admin endpoints: the versioned tree-growth config, halting and resuming trees."""

from __future__ import annotations

import uuid

import pytest

from backend.trees.growth_config import active_config
from backend.trees.models import MessageTree, TreeGrowthConfig
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db


def patch(frontend, body):
    return frontend.http.patch("/api/v1/admin/tree_growth_config", body, format="json")


def test_config_overview_has_active_version_and_history(trusted_frontend):
    response = trusted_frontend.get("admin/tree_growth_config")
    assert response.status_code == 200
    body = response.json()
    assert body["active"]["is_active"] is True
    assert body["active"]["values"]["goal_tree_size"] == active_config().goal_tree_size
    assert [v["version"] for v in body["history"]] == sorted(
        (v["version"] for v in body["history"]), reverse=True
    )


def test_patch_changes_one_value_as_a_new_version(trusted_frontend):
    before = TreeGrowthConfig.objects.count()
    response = patch(trusted_frontend, {"values": {"max_tree_depth": 5}, "comment": "deeper"})
    assert response.status_code == 200
    assert response.json()["values"]["max_tree_depth"] == 5
    assert response.json()["created_by"].startswith("api-client:")
    assert TreeGrowthConfig.objects.count() == before + 1
    assert active_config().max_tree_depth == 5


def test_bad_config_values_are_422_per_field_and_write_nothing(trusted_frontend):
    before = TreeGrowthConfig.objects.count()
    response = patch(
        trusted_frontend, {"values": {"max_tree_depth": -1, "no_such_knob": 1}, "comment": ""}
    )
    assert response.status_code == 422
    assert {"max_tree_depth", "no_such_knob"} <= set(response.json()["errors"])
    assert TreeGrowthConfig.objects.count() == before


def test_put_replaces_every_value(trusted_frontend):
    patch(trusted_frontend, {"values": {"max_tree_depth": 5}})
    response = trusted_frontend.put("admin/tree_growth_config", {"values": {"goal_tree_size": 9}})
    assert response.status_code == 200
    assert active_config().goal_tree_size == 9
    assert active_config().max_tree_depth == 3  # back to its default


def test_rollback_restores_an_earlier_version(trusted_frontend):
    original = TreeGrowthConfig.objects.get(is_active=True).version
    patch(trusted_frontend, {"values": {"max_tree_depth": 6}})
    response = trusted_frontend.post("admin/tree_growth_config/rollback", {"version": original})
    assert response.status_code == 200
    assert response.json()["version"] > original
    assert active_config().max_tree_depth == 3


def test_rollback_to_unknown_version_is_404(trusted_frontend):
    response = trusted_frontend.post("admin/tree_growth_config/rollback", {"version": 999})
    assert response.status_code == 404
    assert "999" in response.json()["message"]


def test_halt_and_resume_a_tree(trusted_frontend):
    prompt = make_tree(author=make_user(trusted_frontend.client_row))
    halted = trusted_frontend.post(f"admin/trees/{prompt.id}/halt")
    assert halted.status_code == 200
    assert halted.json()["state"] == "halted_by_moderator" and halted.json()["active"] is False
    assert set(halted.json()) == {
        "message_tree_id",
        "state",
        "active",
        "goal_tree_size",
        "max_children_count",
        "max_depth",
        "origin",
    }
    MessageTree.objects.filter(id=prompt.id).update(won_prompt_lottery_date="2024-01-01T00:00Z")
    resumed = trusted_frontend.post(f"admin/trees/{prompt.id}/resume")
    assert resumed.status_code == 200 and resumed.json()["state"] == "growing"


def test_halting_a_halted_tree_is_409(trusted_frontend):
    prompt = make_tree(author=make_user(trusted_frontend.client_row), state="halted_by_moderator")
    response = trusted_frontend.post(f"admin/trees/{prompt.id}/halt")
    assert response.status_code == 409


def test_halting_an_unknown_tree_is_404(trusted_frontend):
    response = trusted_frontend.post(f"admin/trees/{uuid.uuid4()}/halt")
    assert response.status_code == 404
    assert response.json()["error_code"] == 2006


@pytest.mark.parametrize("comment", [0, 1.5])
def test_a_config_comment_that_is_not_a_json_string_is_refused(trusted_frontend, comment):
    versions = TreeGrowthConfig.objects.count()
    response = patch(trusted_frontend, {"values": {"max_tree_depth": 5}, "comment": comment})
    assert response.status_code == 422
    assert "comment" in response.json()["errors"]
    assert TreeGrowthConfig.objects.count() == versions


def test_a_null_label_list_is_refused_not_a_500(trusted_frontend):
    response = patch(trusted_frontend, {"values": {"labels_prompter_reply": None}})
    assert response.status_code == 422
    assert "labels_prompter_reply" in response.json()["errors"]
