"""``dispatch.work_counts``: the budget of a round counts the room for claims, not the nodes."""

from __future__ import annotations

import pytest

from backend.trees.models import ReadyWork
from frontend_api.ws.dispatch import Dispatcher, work_counts
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db


def test_a_prompt_wanting_three_reviews_counts_three_claims():
    make_tree(author=make_user(), state="initial_prompt_review", lang="xx", review_result=None)
    row = ReadyWork.objects.get(lang="xx", kind="label_initial_prompt")
    assert row.slots > 1
    counts = work_counts("xx")
    assert counts["label_initial_prompt"] == row.slots
    assert counts["random"] == sum(v for k, v in counts.items() if k != "random")


def test_a_round_stops_once_no_kind_the_line_asks_for_has_work():
    budget = {"random": 5, "initial_prompt": 5, "label_initial_prompt": 0}
    assert Dispatcher._nothing_for({"label_initial_prompt"}, budget, set())
    assert not Dispatcher._nothing_for({"label_initial_prompt", "initial_prompt"}, budget, set())
    assert not Dispatcher._nothing_for({"random"}, budget, set())  # random takes any work
    assert not Dispatcher._nothing_for(set(), budget, set())  # not known: walk the line
    assert Dispatcher._nothing_for({"random"}, {**budget, "random": 0}, set())
