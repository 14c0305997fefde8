"""The label-efficiency simulator: reproducible, scored against its truth, and the adaptive
policies never decide on fewer reviews or rankings than their minimum (small seeded runs)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Count, Q

from backend.trees import growth_config
from backend.trees.core.config import TreeManagerConfig
from backend.trees.growth_config import update_config
from backend.trees.models import Message, MessageReaction
from bench.label_world import make_world, seeded_ids
from grove_sdk.answers import OWN_TEXTS

pytestmark = pytest.mark.django_db

SMALL = {
    "goal_tree_size": 4,
    "min_goal_tree_size": 4,
    "max_children_count": 2,
    "max_active_trees": 3,
}
ADAPTIVE = {
    "review_policy": "sequential",
    "min_reviews": 2,
    "max_reviews": 4,
    "ranking_policy": "adaptive",
    "min_rankings": 2,
    "max_rankings": 4,
}


def run(population: str, *, seed: int, trees: int = 2, steps: int = 500) -> dict:
    with seeded_ids(seed):
        world = make_world(population, volunteers=16, seed=seed)
        # The same few texts with or without ../shared/data beside the checkout (CI has none).
        world._texts = OWN_TEXTS
        world.reliability_every = 50
        world.run(trees=trees, max_steps=steps)
    return world.report()


def test_the_same_seed_gives_the_same_run():
    update_config(changes=SMALL, author="test")
    reports = []
    for _ in range(2):
        with transaction.atomic():
            reports.append(run("spam10", seed=3, trees=1, steps=200))
            transaction.set_rollback(True)
    assert reports[0]["actions"] == reports[1]["actions"]
    assert reports[0]["review"] == reports[1]["review"]


def test_a_stale_configuration_cache_does_not_change_the_run(monkeypatch):
    """A process that last saw an older configuration version (an earlier test's, or before an
    admin's change) reads the work again with the new one: from the same random point, so
    the run is the one a process with no cached version gets."""
    update_config(changes=SMALL, author="test")
    reports = []
    for stale in (None, (-1, TreeManagerConfig())):
        monkeypatch.setattr(growth_config, "_last_seen", stale)
        with transaction.atomic():
            reports.append(run("spam10", seed=3, trees=1, steps=200))
            transaction.set_rollback(True)
    assert reports[0]["actions"] == reports[1]["actions"]
    assert reports[0]["review"] == reports[1]["review"]


def test_a_run_exports_trees_and_scores_them_against_the_truth():
    update_config(changes=SMALL, author="test")
    report = run("reliable", seed=5)
    assert report["trees_exported"] >= 2
    assert report["review"]["decided"] > 0
    assert -1.0 <= report["ranking"]["kendall_tau_mean"] <= 1.0
    assert report["actions_per_exported_tree"]["review"] > 0
    assert set(report["by_volunteer_type"]) <= {"reliable", "noisy", "lazy"}


@pytest.mark.parametrize("selection", ["fixed", "active"])
def test_adaptive_policies_never_decide_below_their_minimums(selection):
    """Whatever draws the next message or parent (OA's uniform draw or active selection)."""
    update_config(changes={**SMALL, **ADAPTIVE, "selection_policy": selection}, author="test")
    run("spam10", seed=11, trees=3, steps=700)

    decided = Message.objects.filter(review_result__isnull=False).annotate(
        reviews=Count("text_labels", filter=Q(text_labels__task__isnull=False))
    )
    assert decided.exists()
    assert all(m.reviews >= ADAPTIVE["min_reviews"] for m in decided)
    scored = Message.objects.filter(children__rank__isnull=False).distinct()
    assert scored.exists()
    for parent in scored:
        rankings = MessageReaction.objects.filter(
            message=parent, payload_type="RankingReactionPayload"
        ).count()
        assert rankings >= ADAPTIVE["min_rankings"]
