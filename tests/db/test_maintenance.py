"""Periodic upkeep: task expiry, scoring retries, the lottery sweep, and their commands."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backend.trees.core.policy import TaskKind
from backend.trees.models import JournalEntry, Message, MessageTree, Task
from backend.trees.services import maintenance
from backend.trees.services.tasks import request_task
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db


def open_task(user, *, expires_in: timedelta, parent=None) -> Task:
    now = timezone.now()
    return Task.objects.create(
        payload_type="assistant_reply",
        payload={},
        user=user,
        api_client=user.api_client,
        message_tree_id=parent.message_tree_id if parent else None,
        parent_message=parent,
        created_at=now - timedelta(hours=3),
        expiry_date=now + expires_in,
    )


def test_expire_tasks_closes_open_tasks_past_their_expiry():
    user = make_user()
    stale = open_task(user, expires_in=timedelta(minutes=-1))
    fresh = open_task(user, expires_in=timedelta(minutes=10))

    assert maintenance.expire_tasks() == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.skipped, stale.skip_reason, stale.done) == (True, "expired", False)
    assert fresh.skipped is False


def test_expire_tasks_leaves_done_and_skipped_tasks_alone():
    user = make_user()
    done = open_task(user, expires_in=timedelta(minutes=-1))
    Task.objects.filter(id=done.id).update(done=True)
    nacked = open_task(user, expires_in=timedelta(minutes=-1))
    Task.objects.filter(id=nacked.id).update(skipped=True, skip_reason="boring")

    assert maintenance.expire_tasks() == 0
    assert Task.objects.get(id=nacked.id).skip_reason == "boring"


def test_expire_tasks_journals_each_expired_task():
    user = make_user()
    stale = open_task(user, expires_in=timedelta(seconds=-5))

    maintenance.expire_tasks()

    entry = JournalEntry.objects.get(event_type="task_expired")
    assert entry.user_id == user.id
    assert entry.payload["kind"] == "assistant_reply"
    assert entry.payload["expiry_date"] == stale.expiry_date.isoformat()


def test_expire_tasks_twice_changes_nothing_the_second_time():
    open_task(make_user(), expires_in=timedelta(seconds=-5))
    maintenance.expire_tasks()
    before = list(Task.objects.values_list("id", "skipped", "skip_reason"))

    assert maintenance.expire_tasks() == 0
    assert list(Task.objects.values_list("id", "skipped", "skip_reason")) == before
    assert JournalEntry.objects.filter(event_type="task_expired").count() == 1


def test_expire_tasks_honours_the_given_now():
    open_task(make_user(), expires_in=timedelta(minutes=30))

    assert maintenance.expire_tasks(now=timezone.now()) == 0
    assert maintenance.expire_tasks(now=timezone.now() + timedelta(hours=1)) == 1


def test_an_expired_task_does_not_count_as_a_skip_by_the_user():
    """An expiry is no judgement: unlike a nack, the node stays offered to the user and no
    ``_skip_reply`` is counted towards auto-moderation."""
    author, user = make_user(), make_user()
    prompt = make_tree(author=author)
    open_task(user, expires_in=timedelta(seconds=-5), parent=prompt)

    maintenance.expire_tasks()

    task = request_task(user=user, kind=TaskKind.ASSISTANT_REPLY, lang="en")
    assert task.parent_message_id == prompt.id
    assert "_skip_reply" not in Message.objects.get(id=prompt.id).emojis


def test_expire_tasks_command_reports_the_count():
    open_task(make_user(), expires_in=timedelta(seconds=-5))
    out = io.StringIO()

    call_command("expire_tasks", stdout=out)

    assert out.getvalue().strip() == "expired 1 task(s)"


def test_retry_scoring_scores_a_scoring_failed_tree():
    prompt = make_tree(author=make_user(), state="scoring_failed")

    report = maintenance.retry_failed_scoring()

    assert report.retried == [prompt.message_tree_id]
    assert MessageTree.objects.get(id=prompt.message_tree_id).state == "ready_for_export"
    assert maintenance.retry_failed_scoring().retried == []


def test_retry_scoring_command_reports_scored_trees():
    make_tree(author=make_user(), state="scoring_failed")
    out = io.StringIO()

    call_command("retry_scoring", stdout=out)

    assert out.getvalue().startswith("scored 1 tree(s); 0 failed again")


def test_run_lotteries_activates_waiting_prompts_in_every_language():
    author = make_user()
    en = make_tree(author=author, state="prompt_lottery_waiting", lang="en")
    de = make_tree(author=author, state="prompt_lottery_waiting", lang="de")

    assert maintenance.run_lotteries() == {"de": 1, "en": 1}
    states = set(MessageTree.objects.filter(id__in=[en.id, de.id]).values_list("state", flat=True))
    assert states == {"growing"}
    assert maintenance.run_lotteries() == {}


def test_run_lottery_command_says_when_nothing_waits():
    out = io.StringIO()
    call_command("run_lottery", stdout=out)
    assert out.getvalue().strip() == "no language has waiting prompts"


def test_job_failures_are_listed_newest_first():
    for n in range(3):
        maintenance.record_job_failure(
            job="grove.tree.advance",
            job_id=f"job-{n}",
            args=(f"tree-{n}",),
            kwargs={},
            exception=RuntimeError(f"boom {n}"),
        )

    failures = maintenance.recent_job_failures(limit=2)

    assert [f["job_id"] for f in failures] == ["job-2", "job-1"]
    assert failures[0]["exception"] == "RuntimeError: boom 2"
    assert failures[0]["args"] == "('tree-2',)"


def test_job_failures_are_listed_by_when_they_happened_not_by_id():
    for n in range(3):
        maintenance.record_job_failure(
            job="grove.tree.advance", job_id=f"job-{n}", args=(), kwargs={}, exception=OSError()
        )
    # The first row inserted is the newest failure (a journal written late, or imported).
    first = JournalEntry.objects.filter(event_type=maintenance.JOB_FAILED).order_by("id").first()
    JournalEntry.objects.filter(id=first.id).update(
        created_at=timezone.now() + timedelta(minutes=5)
    )

    failures = maintenance.recent_job_failures(limit=2)

    assert [f["job_id"] for f in failures] == ["job-0", "job-2"]


def test_queue_status_shows_the_recorded_failures():
    maintenance.record_job_failure(
        job="grove.export.trees", job_id="x", args=(), kwargs={}, exception=ValueError("bad")
    )
    out = io.StringIO()

    call_command("queue_status", stdout=out)

    assert "last 1 failed job(s):" in out.getvalue()
    assert "grove.export.trees" in out.getvalue()
    assert "ValueError: bad" in out.getvalue()
