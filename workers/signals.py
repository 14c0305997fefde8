"""Worker signal handlers: a job that fails for good is journaled as ``job_failed``; every
job run is counted and timed for Prometheus and carries the id of the request that sent it
into its log lines; a worker serves its metrics when ``GROVE_WORKER_METRICS_PORT`` is set."""

from __future__ import annotations

import logging
import os
import time

from celery.signals import (
    before_task_publish,
    task_failure,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)
from django.conf import settings

from backend import events
from backend.observability import context
from backend.observability.metrics import JOB_DURATION, JOB_RUNS

logger = logging.getLogger("grove.workers")

# Celery's task states as the ``outcome`` label of grove_job_runs_total.
OUTCOMES = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}
_running: dict[str, tuple[float, object, object]] = {}


@task_failure.connect
def journal_job_failure(
    sender=None, task_id=None, exception=None, args=None, kwargs=None, **_extra
) -> None:
    """Runs after the job's last attempt (a retry raises ``Retry``, not a failure)."""
    from backend.trees.services.maintenance import record_job_failure

    job = getattr(sender, "name", str(sender))
    logger.error("event=job_failed job=%s job_id=%s error=%r", job, task_id, exception)
    try:
        record_job_failure(
            job=job, job_id=str(task_id), args=args, kwargs=kwargs, exception=exception
        )
    except Exception:  # the database may be what failed; never mask the job's own error
        logger.exception("event=job_failure_not_recorded job=%s job_id=%s", job, task_id)


@before_task_publish.connect
def carry_request_id(headers=None, **_extra) -> None:
    """A job sent while a request runs carries the request's id (``X-Request-ID``)."""
    request_id = context.request_id.get()
    if request_id is not None and headers is not None:
        headers[context.JOB_REQUEST_ID_HEADER] = request_id


@task_prerun.connect
def start_job_run(task_id=None, task=None, **_extra) -> None:
    # Eager jobs run inside the sending request, whose id is already set.
    request_id = task.request.get(context.JOB_REQUEST_ID_HEADER) or context.request_id.get()
    _running[task_id] = (
        time.perf_counter(),
        context.request_id.set(request_id),
        context.job.set((task.name, task_id)),
    )


@task_postrun.connect
def finish_job_run(task_id=None, task=None, state=None, **_extra) -> None:
    started, request_token, job_token = _running.pop(task_id, (None, None, None))
    if started is None:
        return
    JOB_RUNS.labels(task.name, OUTCOMES.get(state, str(state).lower())).inc()
    JOB_DURATION.labels(task.name).observe(time.perf_counter() - started)
    context.job.reset(job_token)
    context.request_id.reset(request_token)


@task_postrun.connect
def return_database_connection(task=None, **_extra) -> None:
    """The job's database connection goes back to this process's pool (closed instead when
    it broke, as Django does after a request); settings.CELERY_DB_REUSE_MAX stops Celery from
    closing the whole pool after each job. An eager job runs inside its caller's work."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


@worker_ready.connect
def serve_worker_metrics(**_extra) -> None:
    """After the pool has started, so its processes do not inherit the listening socket."""
    from prometheus_client import start_http_server

    from backend.observability.exposition import worker_registry
    from backend.observability.pool import start_pool_sampler

    start_pool_sampler()  # the solo pool runs jobs in this process
    events.send_from_own_loop()  # (and its pushes)
    port = settings.GROVE_WORKER_METRICS_PORT
    if port:
        start_http_server(port, addr=settings.GROVE_WORKER_METRICS_ADDR, registry=worker_registry())
        logger.info(
            "event=worker_metrics_serving addr=%s port=%s", settings.GROVE_WORKER_METRICS_ADDR, port
        )


@worker_process_init.connect
def sample_pool_in_pool_process(**_extra) -> None:
    from backend.observability.pool import start_pool_sampler

    start_pool_sampler()
    events.send_from_own_loop()


@worker_process_shutdown.connect
def forget_pool_process(**_extra) -> None:
    """Its open-connection gauges end with it (its counters stay in the sums)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())
