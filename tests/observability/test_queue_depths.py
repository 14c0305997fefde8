"""Jobs waiting in the broker are counted where an operator looks: the console's queue panel
and Prometheus' ``grove_queue_messages`` (nothing consumes the queue during the test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.console import selectors
from tests.observability.scraping import scrape, value
from workers.celery import app
from workers.jobs import expire_tasks_job

pytestmark = pytest.mark.django_db
WAITING = 3


@pytest.fixture
def broker() -> Iterator[None]:
    """Jobs go through Redis (not run in this process); the queue is emptied afterwards."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = eager
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("tree")


def test_jobs_waiting_in_the_broker_show_in_the_console_and_in_prometheus(broker, client):
    console_before = selectors.queues()["waiting"]["tree"]
    gauge_before = value(scrape(client), "grove_queue_messages", queue="tree")

    for _ in range(WAITING):
        expire_tasks_job.delay()

    assert selectors.queues()["waiting"]["tree"] == console_before + WAITING
    assert value(scrape(client), "grove_queue_messages", queue="tree") == gauge_before + WAITING
