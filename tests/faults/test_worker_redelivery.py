"""A follow-up job whose worker is killed -9 in the middle of it runs again within seconds,
on the next worker, through the broker's visibility timeout (real workers, a private Redis)."""

from __future__ import annotations

import time

import psycopg
import pytest

from backend.trees.growth_config import update_config
from backend.trees.models import MessageTree, PendingAdvance
from tests.builders import make_tree, make_user, review
from tests.faults.processes import (
    PrivateRedis,
    grove_environment,
    kill_group,
    start_worker,
    stop,
    wait_until,
)
from tests.live import test_database_url
from workers.celery import app

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
# The operator's knobs, turned down so the test takes seconds (defaults: 60 s and 5 s).
VISIBILITY_SECONDS, RESTORE_SECONDS = 3, 1


@pytest.fixture
def broker(tmp_path):
    """A private Redis; ``use()`` sends this process's jobs there (eager mode off)."""
    redis = PrivateRedis(tmp_path).start()
    original, eager = app.conf.broker_url, app.conf.task_always_eager

    def use() -> PrivateRedis:
        app.conf.broker_url, app.conf.task_always_eager = redis.url, False
        app._pool, app.amqp._producer_pool = None, None
        return redis

    yield use
    app.conf.broker_url, app.conf.task_always_eager = original, eager
    app._pool, app.amqp._producer_pool = None, None
    redis.kill()


def unacked(redis: PrivateRedis) -> int:
    import redis as redis_py

    return redis_py.Redis.from_url(redis.url).hlen("unacked")


def waiting_for_a_lock() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_a_job_whose_worker_was_killed_mid_job_runs_again_within_seconds(broker, tmp_path):
    update_config(changes={"num_reviews_initial_prompt": 1}, author="test")  # its sweep: eager
    prompt = make_tree(author=make_user(), state="initial_prompt_review", review_result=None)
    redis = broker()
    env = grove_environment(
        database_url=test_database_url(),
        redis_url=redis.url,
        GROVE_BROKER_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_SECONDS),
        GROVE_BROKER_RESTORE_INTERVAL_SECONDS=str(RESTORE_SECONDS),
    )
    review(prompt, [make_user(prompt.user.api_client)])  # commits; its advance job is queued

    # Hold the tree's lock so the advance job stops in the middle, then start the worker.
    with psycopg.connect(test_database_url(), autocommit=False) as holder:
        holder.execute(
            "SELECT id FROM trees_messagetree WHERE id = %s FOR NO KEY UPDATE", [prompt.id]
        )
        first = start_worker(env, tmp_path / "first.log", name="first")
        try:
            wait_until(waiting_for_a_lock, timeout=15, what="the job to wait for the tree")
            assert unacked(redis) == 1
            received = (tmp_path / "first.log").read_text()
            assert "grove.tree.advance[" in received and "succeeded" not in received
            kill_group(first)
            killed_at = time.monotonic()
        finally:
            kill_group(first)
        holder.rollback()

    second = start_worker(env, tmp_path / "second.log", name="second")
    try:
        wait_until(
            lambda: not PendingAdvance.objects.filter(tree_id=prompt.id).exists(),
            timeout=30,
            what="the job to run again",
        )
        recovered_after = time.monotonic() - killed_at
    finally:
        stop(second)

    assert MessageTree.objects.get(id=prompt.id).state in {"prompt_lottery_waiting", "growing"}
    # Visibility timeout + one restore interval + a worker start, not kombu's default hour.
    assert recovered_after < VISIBILITY_SECONDS + RESTORE_SECONDS + 8, recovered_after
    print(f"redelivered and run {recovered_after:.1f} s after the kill")
