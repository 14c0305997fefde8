"""A Redis that is down or paused costs Grove's answers nothing but a log line: a committed
answer still answers 2xx at once (its follow-up is owed, not lost), the throttle lets requests
in, and ``/health`` says 503 within its deadline.

"Down" is a port nothing listens on (refused at once); "paused" is a private ``redis-server``
stopped with SIGSTOP (it accepts connections and never answers), never the suite's Redis.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.trees.growth_config import update_config
from backend.trees.models import MessageTree, PendingAdvance
from frontend_api.v1 import throttling
from tests.api.conftest import protocol_user
from tests.faults.processes import PrivateRedis, closed_port
from tests.observability.scraping import scrape, value
from workers.celery import app
from workers.jobs import advance_due_trees_job

ANN, BEN = protocol_user("ann"), protocol_user("ben")
# Far below the 20 s hang and the 5 s stall the findings measured; the timeouts allow ~4 s.
QUICK_SECONDS = 4.5


def _reset_broker_pools() -> None:
    # The app keeps its connection and producer pools for the URL it first used.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_at():
    """Point this process's Celery app at another broker (eager mode off) for one test."""
    original, eager = app.conf.broker_url, app.conf.task_always_eager

    def point(url: str) -> None:
        app.conf.task_always_eager = False
        app.conf.broker_url = url
        _reset_broker_pools()

    yield point
    app.conf.broker_url, app.conf.task_always_eager = original, eager
    _reset_broker_pools()


@pytest.fixture
def paused_redis(tmp_path):
    redis = PrivateRedis(tmp_path).start()
    redis.pause()
    yield redis
    redis.kill()


@pytest.fixture
def throttle_redis_at(settings):
    def point(url: str) -> None:
        settings.CACHE_URL = url
        throttling.counters.cache_clear()

    yield point
    throttling.counters.cache_clear()


def answer_task(frontend, kind: str, user: dict, **fields):
    task = frontend.post("tasks/", {"type": kind, "user": user, "lang": "en"}).json()
    fm = f"fm-{kind}-{user['id']}"
    assert frontend.post(f"tasks/{task['id']}/ack", {"message_id": fm}).status_code == 204
    if kind.startswith("label_"):
        labels = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.8}
        body = {
            "type": "text_labels",
            "message_id": task["message_id"],
            "task_id": task["id"],
            "text": "",
            "labels": {k: v for k, v in labels.items() if k in task["valid_labels"]},
        }
    else:
        body = {"type": "text_reply_to_message", "message_id": fm, "user_message_id": f"u-{fm}"}
        body["text"] = fields.get("text", "How do tides work?")
    started = time.monotonic()
    response = frontend.post("tasks/interaction", {**body, "user": user})
    return task, response, time.monotonic() - started


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_answer_commits_and_answers_at_once_while_the_broker_is_down(frontend, broker_at):
    update_config(changes={"num_reviews_initial_prompt": 1}, author="test")
    _, response, _ = answer_task(frontend, "initial_prompt", ANN)
    assert response.status_code == 200
    tree_id = MessageTree.objects.get().id
    broker_at(f"redis://127.0.0.1:{closed_port()}/0")

    _, response, elapsed = answer_task(frontend, "label_initial_prompt", BEN)

    assert response.status_code == 200, response.json()
    assert response.json()["type"] == "task_done"
    assert elapsed < QUICK_SECONDS
    assert PendingAdvance.objects.filter(tree_id=tree_id).exists()
    assert MessageTree.objects.get(id=tree_id).state == "initial_prompt_review"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_after_the_broker_recovers_the_due_sweep_advances_what_was_not_sent(frontend, broker_at):
    update_config(changes={"num_reviews_initial_prompt": 1}, author="test")
    answer_task(frontend, "initial_prompt", ANN)
    broker_at(f"redis://127.0.0.1:{closed_port()}/0")
    answer_task(frontend, "label_initial_prompt", BEN)
    tree = MessageTree.objects.get()
    PendingAdvance.objects.update(created_at=timezone.now() - timedelta(seconds=10))

    advance_due_trees_job.apply()  # what beat sends every GROVE_DUE_SWEEP_INTERVAL_SECONDS

    assert not PendingAdvance.objects.exists()
    assert MessageTree.objects.get(id=tree.id).state in {"prompt_lottery_waiting", "growing"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_answer_answers_quickly_while_the_broker_is_paused(frontend, broker_at, paused_redis):
    update_config(changes={"num_reviews_initial_prompt": 1}, author="test")
    answer_task(frontend, "initial_prompt", ANN)
    broker_at(paused_redis.url)

    _, response, elapsed = answer_task(frontend, "label_initial_prompt", BEN)

    assert response.status_code == 200, response.json()
    assert elapsed < QUICK_SECONDS
    assert PendingAdvance.objects.filter(tree_id=MessageTree.objects.get().id).exists()


def test_the_throttle_lets_requests_in_when_its_redis_is_down(frontend, throttle_redis_at, caplog):
    throttle_redis_at(f"redis://127.0.0.1:{closed_port()}/0")

    with caplog.at_level(logging.WARNING, logger="grove.api.throttle"):
        response = frontend.post("tasks/availability", ANN, lang="en")

    assert response.status_code == 200
    assert "event=throttle_unavailable outcome=allowed" in caplog.text


def test_each_request_the_throttle_lets_in_unchecked_is_counted_in_metrics(
    frontend, throttle_redis_at, client
):
    before = value(scrape(client), "grove_throttle_unavailable_total")
    throttle_redis_at(f"redis://127.0.0.1:{closed_port()}/0")

    frontend.get("auth/check")
    frontend.post("tasks/availability", ANN, lang="en")

    assert value(scrape(client), "grove_throttle_unavailable_total") == before + 2


def test_the_throttle_lets_requests_in_quickly_when_its_redis_is_paused(
    frontend, throttle_redis_at, paused_redis
):
    throttle_redis_at(paused_redis.url)

    started = time.monotonic()
    response = frontend.get("auth/check")

    assert response.status_code == 200
    assert time.monotonic() - started < 2.0


@pytest.mark.django_db
def test_health_says_503_within_its_deadline_when_the_broker_is_paused(
    client, broker_at, paused_redis
):
    broker_at(paused_redis.url)

    started = time.monotonic()
    response = client.get("/health")

    assert response.status_code == 503
    assert time.monotonic() - started < 3.0
    body = response.json()
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
