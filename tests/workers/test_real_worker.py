"""Jobs sent through Redis run on a real Celery worker against the test database."""

from __future__ import annotations

import json
import uuid

import pytest

from backend.trees.models import JournalEntry, MessageTree
from backend.trees.services.interactions import submit_labels
from tests.builders import make_tree, make_user
from tests.workers.conftest import prompt_in_review, wait_for
from workers.celery import app
from workers.jobs import advance_tree_job, export_trees_job

pytestmark = [
    pytest.mark.workers,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
JOB_TIMEOUT = 15.0


def tree_state(tree_id) -> str:
    return MessageTree.objects.values_list("state", flat=True).get(id=tree_id)


def test_a_review_advances_its_tree_on_the_worker(worker):
    prompt, review, reviewer = prompt_in_review(
        reviews=1,
        text="How do bees find flowers?",
        frontend_message_id="p-1",
        seed=7,
        author="test",
    )
    assert tree_state(prompt.message_tree_id) == "initial_prompt_review"
    labels = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.9}

    # Committed at once (transaction=True): on commit the advance job goes to Redis.
    submit_labels(
        task_id=review.id,
        user=reviewer,
        message_id=prompt.id,
        labels={k: v for k, v in labels.items() if k in review.payload["valid_labels"]},
    )

    wait_for(
        lambda: tree_state(prompt.message_tree_id) != "initial_prompt_review",
        timeout=JOB_TIMEOUT,
    )
    assert tree_state(prompt.message_tree_id) in {"prompt_lottery_waiting", "growing"}
    assert JournalEntry.objects.filter(event_type="message_accepted", message_id=prompt.id).exists()


def test_an_export_job_runs_on_the_worker_and_writes_the_file(worker):
    prompt = make_tree(author=make_user(), state="ready_for_export")

    export_trees_job.delay({"states": ["ready_for_export"]}, "from-worker.jsonl")

    # No result is stored (CELERY_TASK_IGNORE_RESULT): the file appears, complete, by its name.
    path = wait_for(lambda: next(worker["export_dir"].glob("from-worker.jsonl"), None))
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["message_tree_id"] == str(prompt.id)


def test_a_failing_job_is_journaled_and_the_worker_survives(worker):
    missing = str(uuid.uuid4())

    failed = advance_tree_job.delay(missing)
    entry = wait_for(
        lambda: JournalEntry.objects.filter(
            event_type="job_failed", payload__job_id=failed.id
        ).first(),
        timeout=JOB_TIMEOUT,
    )

    assert entry.payload["job"] == "grove.tree.advance"
    assert missing in entry.payload["args"]
    assert entry.payload["exception"].startswith("TreeNotFound: ")
    prompt = make_tree(author=make_user(), state="ready_for_scoring")
    advance_tree_job.delay(str(prompt.id))
    wait_for(lambda: tree_state(prompt.id) == "ready_for_export", timeout=JOB_TIMEOUT)
    assert worker["process"].poll() is None


def test_a_lean_sent_advance_runs_on_a_real_worker(worker, monkeypatch):
    """A review's advance reaches a real worker with Celery's own publishing refused: the
    message the lean path wrote is one the worker takes and runs."""

    def refused(*_args, **_kwargs):
        raise AssertionError("sent through apply_async, not the lean path")

    monkeypatch.setattr(app.tasks[advance_tree_job.name], "apply_async", refused)
    prompt, review, reviewer = prompt_in_review(
        reviews=1, text="Why is the sea salty?", frontend_message_id="p-2", seed=11, author="test"
    )
    labels = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.8}
    submit_labels(  # committed at once; its advance is sent on commit (send_job)
        task_id=review.id,
        user=reviewer,
        message_id=prompt.id,
        labels={k: v for k, v in labels.items() if k in review.payload["valid_labels"]},
    )
    wait_for(
        lambda: tree_state(prompt.message_tree_id) != "initial_prompt_review",
        timeout=JOB_TIMEOUT,
    )
