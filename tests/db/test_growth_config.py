"""The stored tree-growth configuration: seeded, validated, versioned, rolled back."""

from __future__ import annotations

import importlib

import pytest

from backend.trees.core.config import ConfigError, TreeManagerConfig
from backend.trees.growth_config import (
    UnknownConfigVersion,
    active_config,
    config_history,
    rollback_config,
    update_config,
)
from backend.trees.models import JournalEntry, TreeGrowthConfig

pytestmark = pytest.mark.django_db


def test_migration_seeds_open_assistant_defaults_as_version_1():
    seeded = TreeGrowthConfig.objects.get(is_active=True)
    assert seeded.version == 1
    assert TreeManagerConfig.from_dict(seeded.values) == TreeManagerConfig()
    assert active_config().goal_tree_size == 12
    assert active_config().num_reviews_reply == 3


def test_update_takes_effect_on_the_next_read_and_keeps_the_old_version():
    update_config(changes={"goal_tree_size": 20}, author="admin:ada", comment="bigger")
    assert active_config().goal_tree_size == 20
    versions = [(c.version, c.is_active, c.created_by) for c in config_history()]
    assert versions == [(2, True, "admin:ada"), (1, False, "migration")]
    entry = JournalEntry.objects.get(event_type="config_updated")
    assert entry.payload["changed"] == ["goal_tree_size"]
    assert entry.actor == "admin:ada"


def test_invalid_update_reports_every_bad_field_and_writes_nothing():
    with pytest.raises(ConfigError) as excinfo:
        update_config(
            changes={"goal_tree_size": 2, "min_goal_tree_size": 5, "p_activate_backlog_tree": 3},
            author="admin:ada",
        )
    assert "p_activate_backlog_tree" in excinfo.value.errors
    assert any(
        "min_goal_tree_size" in key or "goal_tree_size" in key for key in excinfo.value.errors
    )
    assert TreeGrowthConfig.objects.count() == 1
    assert active_config().goal_tree_size == 12


def test_rollback_restores_an_earlier_version_as_a_new_one():
    update_config(changes={"max_active_trees": 50}, author="admin:ada")
    rolled = rollback_config(version=1, author="admin:bob")
    assert rolled.version == 3
    assert active_config().max_active_trees == 10
    assert "rollback to version 1" in rolled.comment


def test_rollback_to_unknown_version_is_refused():
    with pytest.raises(UnknownConfigVersion):
        rollback_config(version=99, author="admin:ada")
    assert TreeGrowthConfig.objects.count() == 1


def test_stored_versions_hold_the_adaptive_parameters_at_their_defaults():
    migration = importlib.import_module(
        "backend.trees.migrations.0007_adaptive_review_and_reviewer_reliability"
    )
    defaults = TreeManagerConfig()
    assert {k: getattr(defaults, k) for k in migration.NEW_PARAMETERS} == (migration.NEW_PARAMETERS)
    seeded = TreeGrowthConfig.objects.get(version=1).values
    assert seeded["review_policy"] == "fixed" and seeded["ranking_policy"] == "fixed"
