"""Two OA fields Grove answered with constants: a ranking task's ``reveal_synthetic`` (OA
``tree_manager.next_task``) and a leaderboard row's ``level`` (OA issue #1957's thresholds,
which the website's ``useUserScore`` indexes with it)."""

from __future__ import annotations

import pytest

from backend.stats.models import UserStats
from backend.stats.scoring import LEVEL_THRESHOLDS, level_for_score
from backend.trees.models import Message
from tests.api.conftest import protocol_user
from tests.builders import make_ranking_tree, make_user

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")


def ranking_task(frontend, *, synthetic: list[bool]) -> dict:
    author = make_user(frontend.client_row, username="author")
    repliers = [make_user(frontend.client_row, username=f"r{i}") for i in range(len(synthetic))]
    prompt = make_ranking_tree(author=author, repliers=repliers)
    for reply, is_synthetic in zip(
        Message.objects.filter(parent=prompt).order_by("user__username"), synthetic, strict=True
    ):
        Message.objects.filter(id=reply.id).update(synthetic=is_synthetic)
    task = frontend.post("tasks/", {"type": "rank_assistant_replies", "user": ALICE}).json()
    assert task["type"] == "rank_assistant_replies", task
    return task


def test_replies_all_synthetic_are_revealed_as_such(frontend):
    task = ranking_task(frontend, synthetic=[True, True])
    assert task["reveal_synthetic"] is True
    assert [m["synthetic"] for m in task["reply_messages"]] == [True, True]


def test_a_human_reply_among_them_hides_which_are_synthetic(frontend):
    task = ranking_task(frontend, synthetic=[True, False])
    assert task["reveal_synthetic"] is False
    assert [m["synthetic"] for m in task["reply_messages"]] == [None, None]


def test_level_thresholds_are_oas_linear_progression():
    assert LEVEL_THRESHOLDS[:10] == (0, 4, 9, 16, 24, 32, 42, 53, 65, 79)
    assert len(LEVEL_THRESHOLDS) == 100


@pytest.mark.parametrize(
    ("score", "level"), [(0, 0), (3, 0), (4, 1), (8, 1), (9, 2), (79, 9), (10**9, 99)]
)
def test_level_is_the_highest_threshold_reached(score, level):
    assert level_for_score(score) == level


def test_leaderboard_rows_carry_the_level_of_their_score(frontend):
    ann = make_user(frontend.client_row, username="ann")
    UserStats.objects.create(user=ann, time_frame="total", leader_score=80, rank=1)
    [row] = frontend.get("leaderboards/total").json()["leaderboard"]
    assert row["leader_score"] == 80 and row["level"] == 9
