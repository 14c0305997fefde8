"""A real worker counts and times its job runs on its own /metrics, and its log lines name
the request that sent the job."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from backend.observability import context
from tests.observability.scraping import value
from tests.workers.conftest import wait_for
from workers.jobs import advance_tree_job, expire_tasks_job

pytestmark = [
    pytest.mark.workers,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def worker_metrics(worker) -> str:
    with urllib.request.urlopen(worker["metrics_url"], timeout=5) as response:
        return response.read().decode()


def job_runs(worker, job: str, outcome: str) -> float:
    return value(worker_metrics(worker), "grove_job_runs_total", job_name=job, outcome=outcome)


def test_a_worker_counts_and_times_each_job_by_name_and_outcome(worker):
    expire = "grove.tree.expire_tasks"
    before = job_runs(worker, expire, "success")
    expire_tasks_job.delay()
    wait_for(lambda: job_runs(worker, expire, "success") > before)
    text = worker_metrics(worker)
    assert value(text, "grove_job_duration_seconds_count", job_name=expire) >= 1

    advance = "grove.tree.advance"
    failed_before = job_runs(worker, advance, "failure")
    advance_tree_job.delay(str(uuid.uuid4()))  # no such tree: a final failure, not retried
    wait_for(lambda: job_runs(worker, advance, "failure") > failed_before)


def test_a_job_logs_with_the_id_of_the_request_that_sent_it(worker):
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    token = context.request_id.set(request_id)
    try:
        expire_tasks_job.delay()
    finally:
        context.request_id.reset(token)

    def job_lines() -> list[dict]:
        lines = worker["log"].read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        return [entry for entry in entries if entry.get("request_id") == request_id]

    lines = wait_for(job_lines)
    assert all(entry["job"] == "grove.tree.expire_tasks" for entry in lines)
    assert all(entry["job_id"] for entry in lines)
