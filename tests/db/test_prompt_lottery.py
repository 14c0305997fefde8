"""The prompt lottery as OA's ``_prompt_lottery`` draws (engine-bugs R5): authors weighted by
their monthly ``reply_ranked_1`` + 1, disabled or deleted authors' prompts halted and never
drawn, at most two activations per call (OA's ``max_activate`` of a task request)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from backend.stats.models import UserStats
from backend.trees.core.lifecycle import TreeState
from backend.trees.growth_config import update_config
from backend.trees.models import MessageTree
from backend.trees.services import maintenance
from backend.trees.services.trees import run_prompt_lottery
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db

WAITING = TreeState.PROMPT_LOTTERY_WAITING.value


def waiting_prompt(author):
    return make_tree(author=author, state=WAITING)


def state(prompt) -> str:
    return MessageTree.objects.get(id=prompt.message_tree_id).state


def test_an_author_with_more_first_ranked_replies_this_month_wins_more_often():
    update_config(changes={"max_active_trees": 1}, author="test")
    top, newcomer = make_user(username="top"), make_user(username="new")
    UserStats.objects.create(user=top, time_frame="month", reply_ranked_1=9)
    UserStats.objects.create(user=newcomer, time_frame="week", reply_ranked_1=9)  # not monthly
    a, b = waiting_prompt(top), waiting_prompt(newcomer)
    rng, wins = random.Random(5), Counter()
    for _ in range(400):
        MessageTree.objects.filter(id__in=[a.id, b.id]).update(state=WAITING)
        run_prompt_lottery(lang="en", rng=rng)
        wins["top" if state(a) == TreeState.GROWING else "new"] += 1
    # weights 10:1, so about 364:36; a fair coin would give 200:200
    assert 330 <= wins["top"] <= 395, wins


@pytest.mark.parametrize("field", ["enabled", "deleted"])
def test_prompts_of_disabled_or_deleted_authors_are_halted_never_drawn(field):
    gone = make_user(username="gone")
    setattr(gone, field, field == "deleted")
    gone.save()
    theirs = [waiting_prompt(gone) for _ in range(3)]
    assert run_prompt_lottery(lang="en", rng=random.Random(1)) == 0
    assert {state(p) for p in theirs} == {TreeState.HALTED_BY_MODERATOR.value}


def test_one_call_activates_at_most_two_prompts():
    author = make_user()
    prompts = [waiting_prompt(author) for _ in range(6)]
    assert run_prompt_lottery(lang="en", rng=random.Random(2)) == 2
    assert sum(state(p) == TreeState.GROWING for p in prompts) == 2


def test_the_lottery_sweep_fills_every_free_slot_two_at_a_time():
    update_config(changes={"max_active_trees": 5}, author="test")
    author = make_user()
    prompts = [waiting_prompt(author) for _ in range(8)]
    assert maintenance.run_lotteries() == {"en": 5}
    assert sum(state(p) == TreeState.GROWING for p in prompts) == 5
