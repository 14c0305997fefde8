"""The beat schedule, job routing, and the periodic jobs run in-process (eager)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.trees.models import MessageTree, Task
from tests.builders import add_reply, make_tree, make_user
from workers import jobs
from workers.celery import app
from workers.schedule import beat_schedule


def test_every_scheduled_job_is_a_registered_job():
    app.loader.import_default_modules()

    scheduled = {entry["task"] for entry in beat_schedule().values()}

    assert scheduled == {
        "grove.tree.expire_tasks",
        "grove.tree.retry_scoring",
        "grove.tree.run_lottery",
        "grove.tree.sweep",
        "grove.tree.advance_due",
        "grove.stats.user_stats",
        "grove.stats.troll_stats",
        "grove.stats.cached_stats",
        "grove.stats.streaks",
        "grove.tree.top_up_rankings",
        "grove.stats.report_queues",
        "grove.tree.return_push_leases",
        "grove.stats.reviewer_reliability",
        "grove.stats.console_snapshot",
    }
    assert scheduled <= set(app.tasks)


def test_stats_are_scheduled_for_every_time_frame_at_oa_intervals():
    schedule = beat_schedule()

    minutes = {
        entry["args"][0]: entry["schedule"] / 60
        for entry in schedule.values()
        if entry["task"] == "grove.stats.user_stats"
    }

    assert minutes == {"day": 5, "week": 15, "month": 60, "total": 240}


def test_intervals_come_from_settings(settings):
    settings.GROVE_EXPIRE_TASKS_INTERVAL_SECONDS = 7

    assert beat_schedule()["expire-tasks"]["schedule"] == 7.0


@pytest.mark.parametrize(
    ("job", "queue"),
    [
        ("grove.tree.expire_tasks", "tree"),
        ("grove.stats.user_stats", "stats"),
        ("grove.export.trees", "export"),
    ],
)
def test_a_job_is_routed_to_the_queue_its_name_names(job, queue):
    route = app.amqp.router.route({}, job)

    assert route["queue"].name == queue


def test_jobs_retry_a_bounded_number_of_times():
    app.loader.import_default_modules()

    for name in [n for n in app.tasks if n.startswith("grove.")]:
        assert 0 < app.tasks[name].max_retries <= 5, name


def test_only_the_follow_up_job_acks_late_and_it_ends_within_the_visibility_timeout():
    """A late-acked job running past the broker's visibility timeout is delivered twice; a
    retry's message waits unacknowledged for its countdown. Both must stay below it."""
    app.loader.import_default_modules()
    visibility = app.conf.broker_transport_options["visibility_timeout"]

    late = {n for n in app.tasks if n.startswith("grove.") and app.tasks[n].acks_late}

    assert late == {"grove.tree.advance"}
    advance = app.tasks["grove.tree.advance"]
    assert advance.time_limit < visibility
    assert advance.soft_time_limit < advance.time_limit
    assert advance.retry_backoff_max + advance.time_limit < visibility
    assert app.conf.task_reject_on_worker_lost


@pytest.mark.django_db
def test_expire_tasks_job_runs_the_service():
    user = make_user()
    Task.objects.create(
        payload_type="assistant_reply",
        payload={},
        user=user,
        api_client=user.api_client,
        expiry_date=timezone.now() - timedelta(seconds=1),
    )

    assert jobs.expire_tasks_job.delay().get() == 1
    assert jobs.expire_tasks_job.delay().get() == 0


@pytest.mark.django_db
def test_retry_scoring_job_reports_the_trees_it_scored():
    prompt = make_tree(author=make_user(), state="scoring_failed")

    result = jobs.retry_scoring_job.delay().get()

    assert result == {"retried": [str(prompt.id)], "failed_again": []}
    assert MessageTree.objects.get(id=prompt.id).state == "ready_for_export"


@pytest.mark.django_db
def test_run_lottery_job_activates_waiting_trees():
    prompt = make_tree(author=make_user(), state="prompt_lottery_waiting", lang="fr")

    assert jobs.run_lottery_job.delay().get() == {"fr": 1}
    assert MessageTree.objects.get(id=prompt.id).state == "growing"


@pytest.mark.django_db
@pytest.mark.parametrize("time_frame", ["day", "week", "month", "total"])
def test_user_stats_job_rebuilds_the_leaderboard(time_frame):
    from backend.stats.models import UserStats

    author = make_user()
    add_reply(make_tree(author=author), author=make_user())

    jobs.user_stats_job.delay(time_frame).get()

    assert UserStats.objects.filter(user=author, time_frame=time_frame).exists()


@pytest.mark.django_db
def test_troll_stats_job_runs_the_service():
    from backend.stats.models import TrollStats
    from backend.stats.services import recompute_troll_stats as recompute

    make_tree(author=make_user())
    rows = jobs.troll_stats_job.delay("total").get()

    assert rows == TrollStats.objects.filter(time_frame="total").count()
    assert rows == recompute(time_frame="total")  # idempotent: a second run, same rows


@pytest.mark.django_db
def test_cached_stats_job_stores_the_cached_documents():
    from backend.stats.models import CachedStats

    names = jobs.cached_stats_job.delay().get()

    assert names
    assert set(CachedStats.objects.values_list("name", flat=True)) >= set(names)


@pytest.mark.django_db
def test_an_unknown_time_frame_fails_without_retrying():

    with pytest.raises(ValueError):
        jobs.user_stats_job.delay("fortnight").get()


@pytest.mark.django_db
def test_streaks_job_resets_an_idle_users_streak():
    from backend.accounts.models import User

    user = make_user()
    long_ago = timezone.now() - timedelta(days=5)
    User.objects.filter(id=user.id).update(
        streak_days=4,
        streak_last_day_date=long_ago - timedelta(days=4),
        last_activity_date=long_ago,
    )

    jobs.streaks_job.delay().get()

    assert User.objects.get(id=user.id).streak_days == 0


@pytest.mark.django_db
def test_top_up_job_activates_backlog_below_the_minimum_rankings():
    from backend.trees.growth_config import update_config

    update_config(changes={"min_active_rankings_per_lang": 1}, author="test")
    prompt = make_tree(author=make_user(), state="backlog_ranking")
    for _ in range(2):
        add_reply(prompt, author=make_user(), review_result=True)
    idle = make_tree(author=make_user(), state="backlog_ranking", lang="de")

    assert jobs.top_up_rankings_job.delay().get() == {"en": 1, "de": 1}
    assert MessageTree.objects.get(id=prompt.id).state == "ranking"
    # The "de" backlog tree was taken out of the backlog too, but had nothing to rank.
    assert MessageTree.objects.get(id=idle.id).state == "aborted_low_grade"


@pytest.mark.django_db
def test_queue_report_job_reads_every_queue():
    report = jobs.report_queues_job.delay().get()
    assert set(report["waiting"]) == {"tree", "stats", "export"}
    assert report["unacked"] >= 0
