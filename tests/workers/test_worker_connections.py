"""A prefork worker (production's pool) keeps its database session from one job to the next.

Celery's Django fixup closed the whole connection pool around every job of a prefork worker:
each job opened a new PostgreSQL session (settings.CELERY_DB_REUSE_MAX, workers/signals.py).
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from tests.workers.conftest import WORKER_APPLICATION_NAME, _worker_idle, wait_for
from workers.jobs import advance_due_trees_job

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
WORKER_POOL = "prefork"


def _worker_sessions() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [WORKER_APPLICATION_NAME],
        )
        return {pid for (pid,) in cursor.fetchall()}


def wait_until_sessions(timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while not (found := _worker_sessions()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def _run_one_job() -> None:
    advance_due_trees_job.delay()
    wait_for(_worker_idle, timeout=30.0, interval=0.2)


def test_a_prefork_worker_serves_its_jobs_on_the_same_database_session(worker):
    _run_one_job()
    # The prefork pool can report itself idle between taking the job off the queue and its
    # child starting it (the child opens its session then): the session is waited for.
    after_first = wait_until_sessions()
    assert after_first, "the worker closed its database session after the job"
    for _ in range(3):
        _run_one_job()
    assert after_first & _worker_sessions(), "each job opened a new database session"
