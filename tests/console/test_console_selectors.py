"""The console's figures, read from real PostgreSQL (and push dispatch's Redis line)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.console import selectors
from backend.console.config_diff import config_diff
from backend.console.models import ConsoleSnapshot
from backend.console.services import take_snapshot
from backend.push import keys, signals
from backend.trees import journal
from backend.trees.growth_config import update_config
from backend.trees.models import JournalEntry
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db


def test_funnel_counts_trees_per_language_and_state():
    author = make_user()
    make_tree(author=author, state="growing", lang="en")
    make_tree(author=author, state="growing", lang="en")
    make_tree(author=author, state="initial_prompt_review", lang="de", review_result=None)

    assert selectors.tree_funnel() == {
        "en": {"growing": 2},
        "de": {"initial_prompt_review": 1},
    }


def test_funnel_columns_are_every_tree_state_once():
    from backend.trees.models import TREE_STATE_CHOICES

    assert sorted(selectors.FUNNEL_STATES) == sorted(v for v, _ in TREE_STATE_CHOICES)


def test_a_language_with_volunteers_waiting_and_no_work_is_starving():
    rows = selectors.work_and_volunteers({"en": 4, "de": 0}, {"de": 3, "en": 2}, {"fr"})

    assert rows[0] == {
        "lang": "de",
        "slots": 0,
        "work": {},
        "volunteers_ready": 3,
        "starving": True,
    }
    assert {row["lang"]: row["starving"] for row in rows} == {"de": True, "en": False, "fr": False}


def test_volunteers_ready_are_read_from_the_push_line():
    client = signals.redis_client()
    client.delete(keys.LANGS, keys.ready("en"), keys.ready("de"))
    try:
        client.sadd(keys.LANGS, "en", "de")
        client.zadd(keys.ready("en"), {"s1.u1": 1, "s1.u2": 2})
        assert selectors.volunteers_ready() == {"en": 2}
    finally:
        client.delete(keys.LANGS, keys.ready("en"))


def test_ready_work_counts_open_slots_per_language():
    make_tree(author=make_user(), state="growing", lang="en")

    assert selectors.ready_work_slots()["en"] > 0


def test_each_language_shows_its_open_work_by_category():
    author = make_user()
    make_tree(author=author, state="growing", lang="en")  # its prompt takes replies
    make_tree(author=author, state="initial_prompt_review", lang="en", review_result=None)

    rows = {row["lang"]: row for row in selectors.overview()["work"]}

    work = rows["en"]["work"]
    assert work["reply"] > 0 and work["label_prompt"] > 0
    assert set(work) <= {"ranking", "label_reply", "reply", "label_prompt", "prompt"}
    assert sum(work.values()) == rows["en"]["slots"] == selectors.ready_work_slots()["en"]


def test_tasks_per_kind_come_from_the_journal_window():
    now = timezone.now()
    journal.record("task_created", payload={"kind": "initial_prompt"})
    earlier = JournalEntry.objects.get(event_type="task_created").pk
    JournalEntry.objects.filter(pk=earlier).update(created_at=now - timedelta(minutes=5))
    journal.record("task_created", payload={"kind": "label_initial_prompt"})
    journal.record("task_created", payload={"kind": "label_initial_prompt"})
    journal.record("task_created", payload={"kind": "initial_prompt"})

    assert selectors.tasks_created_by_kind(now - timedelta(seconds=60)) == {
        "label_initial_prompt": 2,
        "initial_prompt": 1,
    }


def test_recent_events_leave_out_per_task_entries():
    journal.record("task_created", payload={"kind": "initial_prompt"})
    journal.record("tree_state_changed", payload={"to": "growing"}, actor="someone")

    events = selectors.recent_events()

    assert [event["event"] for event in events] == ["tree_state_changed"]
    assert events[0]["actor"] == "someone"


def test_overview_names_the_active_config_version():
    created = update_config(changes={"goal_tree_size": 9}, author="tester")

    overview = selectors.overview()

    assert overview["config_version"] == created.version
    assert overview["queues"] == {"mode": "eager"}
    assert overview["failed_jobs"] == {"last_hour": 0, "recent": []}


def test_snapshot_records_trees_and_the_tasks_since_the_previous_one():
    make_tree(author=make_user(), state="growing", lang="en")
    first = take_snapshot(now=timezone.now() - timedelta(seconds=30))
    journal.record("task_created", payload={"kind": "assistant_reply"})

    second = take_snapshot()

    assert second.figures["trees"] == {"en": {"growing": 1}}
    assert second.figures["tasks"] == {"assistant_reply": 1}
    assert 29 < second.figures["seconds"] < 60
    assert first.figures["tasks"] == {}


def test_snapshots_older_than_the_retention_are_deleted(settings):
    settings.GROVE_CONSOLE_SNAPSHOT_RETENTION_DAYS = 2
    ConsoleSnapshot.objects.create(taken_at=timezone.now() - timedelta(days=3), figures={})

    take_snapshot()

    assert ConsoleSnapshot.objects.count() == 1


def test_series_carry_the_config_versions_activated_in_the_span():
    take_snapshot()
    created = update_config(changes={"goal_tree_size": 9}, author="tester", comment="bigger")

    series = selectors.chart_series(hours=1)

    assert len(series["snapshots"]) == 1
    markers = [(m["version"], m["comment"]) for m in series["config_versions"]]
    assert markers[-1] == (created.version, "bigger")
    assert all(m["at"] >= series["since"] for m in series["config_versions"])


def test_series_refuse_a_span_beyond_a_week():
    with pytest.raises(ValueError, match="hours"):
        selectors.chart_series(hours=24 * 8)


def test_config_diff_lists_changed_parameters_in_form_order():
    diff = config_diff(
        {"a": 1, "b": ("x",), "c": True},
        {"a": 2, "b": ["x"], "c": False},
        order=("c", "a", "b"),
    )

    assert diff == [
        {"name": "c", "before": True, "after": False},
        {"name": "a", "before": 1, "after": 2},
    ]


def test_snapshot_job_and_command_each_record_one(capsys):
    from django.core.management import call_command

    from workers import jobs

    jobs.console_snapshot_job.delay()
    call_command("take_console_snapshot")

    assert ConsoleSnapshot.objects.count() == 2
    assert "snapshot" in capsys.readouterr().out


def test_requests_answered_with_nothing_make_a_language_without_slots_starve():
    rows = selectors.work_and_volunteers({"en": 4, "de": 0}, {}, set())

    marked = selectors.with_rest_figures(rows, {"de": 5, "en": 2, "fr": 1}, {})

    assert [(row["lang"], row["unserved"], row["starving"]) for row in marked] == [
        ("de", 5, True),
        ("fr", 1, True),
        ("en", 2, False),
    ]


def test_volunteers_active_over_rest_make_a_language_without_slots_starve():
    """A REST-only deployment: nobody waits in push's line, and the volunteers who asked a
    while ago got tasks (no "no task" answer this minute)."""
    rows = selectors.work_and_volunteers({"en": 4, "de": 0}, {}, set())

    marked = selectors.with_rest_figures(rows, {}, {"de": 3, "en": 7, "it": 1})

    assert [(row["lang"], row["rest_active"], row["starving"]) for row in marked] == [
        ("de", 3, True),
        ("it", 1, True),
        ("en", 7, False),
    ]


def test_rest_volunteers_unknown_are_null_and_starve_nobody():
    rows = selectors.work_and_volunteers({"de": 0}, {}, set())

    (row,) = selectors.with_rest_figures(rows, {}, None)

    assert (row["rest_active"], row["starving"]) == (None, False)


def test_snapshot_records_the_deployments_task_requests_and_rest_volunteers(settings):
    from backend.console import deployment

    settings.GROVE_CONSOLE_FLUSH_SECONDS = 0  # this process's flusher thread: paused
    client = deployment.redis_client()
    client.delete(*client.keys(f"{deployment.PREFIX}*") or ["none"])
    now = timezone.now()
    client.hincrby(deployment.figures_key(int(now.timestamp() // 10)), "lat:inf", 12)
    client.hincrby(deployment.figures_key(int(now.timestamp() // 10)), "none:de", 2)
    client.pfadd(deployment.rest_key(int(now.timestamp() // 60), "de"), "ada", "bob")
    client.sadd(deployment.rest_langs_key(int(now.timestamp() // 60)), "de")

    figures = take_snapshot(now=now).figures

    assert figures["latency"]["requests"] == 12
    assert (figures["unserved"], figures["rest_active"]) == ({"de": 2}, {"de": 2})


def test_failed_jobs_count_the_last_hour_and_list_the_newest():
    from backend.trees.services.maintenance import record_job_failure

    for n in range(2):
        record_job_failure(
            job=f"grove.job.{n}", job_id=str(n), args=(), kwargs={}, exception=OSError("down")
        )

    failed = selectors.failed_jobs(timezone.now(), limit=1)

    assert failed["last_hour"] == 2
    assert [(job["job"], job["exception"]) for job in failed["recent"]] == [
        ("grove.job.1", "OSError: down")
    ]
