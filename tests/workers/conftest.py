"""A real Celery worker (subprocess) on the test's Redis and the test's PostgreSQL database."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.faults.processes import free_port, wait_until
from tests.live import test_database_url
from workers.celery import app
from workers.monitoring import QUEUES

ROOT = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT = 30.0
NODE_NAME = "grove-test-worker@localhost"
WORKER_APPLICATION_NAME = "grove-test-worker"


def wait_for(condition, *, timeout: float = 15.0, interval: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    what = getattr(condition, "__name__", "?")
    return wait_until(condition, timeout=timeout, what=what, interval=interval)


def prompt_in_review(*, reviews: int, text: str, frontend_message_id: str, seed: int, author: str):
    """A prompt written through its task and a review task for it handed to a second user,
    ``reviews`` reviews required (a config change by ``author``): (prompt, review task,
    reviewer)."""
    from backend.trees.core.policy import TaskKind
    from backend.trees.growth_config import update_config
    from backend.trees.services.interactions import submit_text_reply
    from backend.trees.services.tasks import request_task
    from tests.builders import make_client, make_user

    update_config(changes={"num_reviews_initial_prompt": reviews}, author=author)
    client = make_client()
    writer, reviewer = make_user(client), make_user(client)
    rng = random.Random(seed)
    task = request_task(user=writer, kind=TaskKind.INITIAL_PROMPT, lang="en", rng=rng)
    prompt = submit_text_reply(
        task_id=task.id, user=writer, text=text, frontend_message_id=frontend_message_id
    )
    review = request_task(user=reviewer, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en", rng=rng)
    return prompt, review, reviewer


def _purge_queues() -> None:
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete(*QUEUES, "unacked", "unacked_index")


@pytest.fixture(scope="module")
def worker(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """Start ``celery -A workers worker -Q tree,stats,export -P solo`` once per module, with
    eager mode off in this process so ``.delay()`` goes through Redis; always stop it.

    A module sets ``WORKER_POOL = "prefork"`` for production's pool (one child process). The
    worker's database sessions are named ``WORKER_APPLICATION_NAME`` in pg_stat_activity."""
    if not settings.REDIS_URL:
        pytest.skip("the worker tests need REDIS_URL")
    with django_db_blocker.unblock():
        database_url = test_database_url()
    export_dir = tmp_path_factory.mktemp("exports")
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    metrics_port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DATABASE_URL": f"{database_url}?application_name={WORKER_APPLICATION_NAME}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND or settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "GROVE_EXPORT_DIR": str(export_dir),
        # Its metrics (tests/workers/test_worker_metrics.py), as in docker-compose.yml.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("worker-metrics")),
        "GROVE_WORKER_METRICS_PORT": str(metrics_port),
        "GROVE_WORKER_METRICS_ADDR": "127.0.0.1",
        "GROVE_LOG_FORMAT": "json",
    }
    env.pop("GROVE_TEST_DB_NAME", None)
    _purge_queues()
    celery = Path(sys.executable).with_name("celery")
    log = open(log_path, "w")  # noqa: SIM115 - closed after the worker stops
    process = subprocess.Popen(
        [
            str(celery),
            "-A",
            "workers",
            "worker",
            "-Q",
            ",".join(QUEUES),
            "-P",
            getattr(request.module, "WORKER_POOL", "solo"),
            "-c",
            "1",
            "-n",
            NODE_NAME,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:

        def worker_ready():
            if process.poll() is not None:
                pytest.fail(f"the worker exited early:\n{log_path.read_text()}")
            return " ready." in log_path.read_text()

        wait_for(worker_ready, timeout=WORKER_START_TIMEOUT)
        yield {
            "process": process,
            "export_dir": export_dir,
            "log": log_path,
            "metrics_url": f"http://127.0.0.1:{metrics_port}/metrics",
        }
    finally:
        app.conf.task_always_eager = eager
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
        _purge_queues()


def _worker_idle() -> bool:
    """Nothing queued, and the worker answers a control message with no job running (the
    solo pool reads control messages only between jobs, so an answer means it is idle)."""
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        if any(client.llen(queue) for queue in QUEUES):
            return False
    replies = app.control.inspect(destination=[NODE_NAME], timeout=1.0).active() or {}
    return replies.get(NODE_NAME) == []


@pytest.fixture(autouse=True)
def _settle_worker(request):
    """After a test that used the worker, wait until its jobs are done: a job still writing
    while pytest-django truncates the tables deadlocks the flush and fails every later test."""
    yield
    if "worker" in request.fixturenames:
        wait_for(_worker_idle, timeout=60.0, interval=0.2)
