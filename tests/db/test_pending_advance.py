"""A tree owed an advance is recorded with the change (``PendingAdvance``), settled by the
advance, and advanced by the due sweep when its job never ran."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.trees.growth_config import update_config
from backend.trees.models import MessageTree, PendingAdvance
from backend.trees.services.maintenance import advance_due_trees
from backend.trees.services.trees import advance_tree
from tests.builders import make_tree, make_user, review

pytestmark = pytest.mark.django_db


def owed(tree_id) -> int:
    return PendingAdvance.objects.filter(tree_id=tree_id).count()


def state(tree_id) -> str:
    return MessageTree.objects.values_list("state", flat=True).get(id=tree_id)


def reviewed_prompt_without_its_job(django_capture_on_commit_callbacks):
    """A prompt whose last required review committed but whose advance job never ran."""
    update_config(changes={"num_reviews_initial_prompt": 1}, author="test")
    prompt = make_tree(author=make_user(), state="initial_prompt_review", review_result=None)
    with django_capture_on_commit_callbacks(execute=False) as sends:
        review(prompt, [make_user(prompt.user.api_client)])
    assert sends, "the review registered its job for after the commit"
    return prompt


def test_the_review_that_completes_a_prompt_records_its_tree_owed_an_advance(
    django_capture_on_commit_callbacks,
):
    prompt = reviewed_prompt_without_its_job(django_capture_on_commit_callbacks)

    assert owed(prompt.id) == 1
    assert state(prompt.id) == "initial_prompt_review"


def test_an_advance_settles_what_the_tree_was_owed(django_capture_on_commit_callbacks):
    prompt = reviewed_prompt_without_its_job(django_capture_on_commit_callbacks)

    advance_tree(tree_id=prompt.id)

    assert owed(prompt.id) == 0
    assert state(prompt.id) != "initial_prompt_review"


def test_the_due_sweep_advances_a_tree_whose_job_never_ran(django_capture_on_commit_callbacks):
    prompt = reviewed_prompt_without_its_job(django_capture_on_commit_callbacks)
    PendingAdvance.objects.update(created_at=timezone.now() - timedelta(seconds=10))

    assert advance_due_trees() == 1

    assert owed(prompt.id) == 0
    assert state(prompt.id) in {"prompt_lottery_waiting", "growing"}


def test_the_due_sweep_leaves_debts_younger_than_a_few_seconds_to_their_job(
    django_capture_on_commit_callbacks,
):
    prompt = reviewed_prompt_without_its_job(django_capture_on_commit_callbacks)

    assert advance_due_trees() == 0

    assert owed(prompt.id) == 1
    assert state(prompt.id) == "initial_prompt_review"
