"""Every metric Grove exports, declared once, and the functions that count domain events.

Counters are incremented by code that already runs (a service that hands out a task, the
middleware around a request, a Celery signal): no extra query or Redis round trip. With
several processes (uvicorn ``--workers``, Celery's prefork pool) set
``PROMETHEUS_MULTIPROC_DIR`` before start: each process then writes its values to a file
there and a scrape sums them (prometheus_client's multiprocess mode). Gauges that describe
the whole deployment (trees by state, queue depths) are not here: ``scrape`` computes them
when Prometheus asks.

Label values come from small fixed sets (task kinds, route patterns, job names) except the
language, which a client chooses: ``lang_label`` caps the languages one process labels.
"""

from __future__ import annotations

import threading

from django.db import transaction
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No ``*_created`` series beside each counter: Prometheus does not need them, and they double
# a scrape's size (multiprocess mode never writes them anyway).
disable_created_metrics()

# Seconds. A task request takes ~10 ms of CPU; the upper buckets catch lock waits and
# a dependency's timeouts (pool: 5 s, statement: 30 s).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

# --- HTTP -----------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "grove_http_requests",
    "HTTP requests answered, by route pattern, method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "grove_http_request_duration_seconds",
    "Time from the first middleware to the response, by route pattern and method.",
    ["route", "method"],
    buckets=REQUEST_BUCKETS,
)

# --- Tasks ----------------------------------------------------------------------------------
TASKS_HANDED_OUT = Counter(
    "grove_tasks_handed_out", "Tasks handed out to a user, by kind and language.", ["kind", "lang"]
)
TASKS_ACKED = Counter(
    "grove_tasks_acked", "Tasks a frontend acknowledged, by kind and language.", ["kind", "lang"]
)
TASKS_ANSWERED = Counter(
    "grove_tasks_answered", "Tasks answered (reply, review, ranking).", ["kind", "lang"]
)
TASKS_SKIPPED = Counter("grove_tasks_skipped", "Tasks a user skipped (nack).", ["kind", "lang"])
TASKS_EXPIRED = Counter(
    "grove_tasks_expired", "Open tasks closed because they expired.", ["kind", "lang"]
)
TASKS_RETURNED = Counter(
    "grove_tasks_returned",
    "Pushed tasks given back to the pool (not acknowledged in time, or their socket gone).",
    ["kind", "lang"],
)
TASK_REQUESTS_UNSERVED = Counter(
    "grove_task_requests_unserved",
    "Task requests answered with no task: nothing available (503) or too many pending (400). "
    "A language with these and no tasks handed out has volunteers waiting.",
    ["requested", "lang", "reason"],
)
TASK_CLAIM_CONFLICTS = Counter(
    "grove_task_claim_conflicts",
    "Slots a task request chose but lost to a concurrent request (it tried another).",
    ["kind", "lang"],
)

THROTTLE_UNAVAILABLE = Counter(
    "grove_throttle_unavailable",
    "Requests the throttle let in unchecked: its Redis was down or slower than its timeout.",
)

# --- Jobs -----------------------------------------------------------------------------------
# "job_name", not "job": Prometheus gives every scraped series its own "job" label (the
# scrape job), and would rename ours to "exported_job".
JOBS_SENT = Counter("grove_jobs_sent", "Jobs sent to the broker, by job name.", ["job_name"])
JOBS_NOT_SENT = Counter(
    "grove_jobs_not_sent",
    "Jobs whose send failed (broker down); the due sweep sends their work again.",
    ["job_name"],
)
JOB_RUNS = Counter(
    "grove_job_runs",
    "Job runs finished in a worker, by job name and outcome (success, failure, retry).",
    ["job_name", "outcome"],
)
JOB_DURATION = Histogram(
    "grove_job_duration_seconds",
    "Wall-clock time of a job run in a worker, by job name.",
    ["job_name"],
    buckets=JOB_BUCKETS,
)

# --- Websockets -----------------------------------------------------------------------------
WS_CONNECTIONS = Gauge(
    "grove_ws_connections",
    "Open, authenticated websockets, by route.",
    ["route"],
    multiprocess_mode="livesum",
)
WS_CONNECTIONS_OPENED = Counter(
    "grove_ws_connections_opened", "Websockets authenticated, by route.", ["route"]
)
WS_PUSHES = Counter("grove_ws_pushes", "Event frames pushed to websockets, by event.", ["event"])
EVENT_PUSH_FAILURES = Counter(
    "grove_event_push_failures",
    "Events the channel layer did not take (Redis down or slow); sockets missed them.",
    ["event"],
)

# --- Database connection pool (sampled by ``pool_sampler``) ---------------------------------
DB_POOL_CONNECTIONS = Gauge(
    "grove_db_pool_connections",
    "Connections in this deployment's pools: open (size), idle (available), and the maximum.",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "grove_db_pool_requests_waiting",
    "Requests waiting for a pooled connection right now.",
    multiprocess_mode="livesum",
)
DB_POOL_QUEUED = Counter(
    "grove_db_pool_requests_queued",
    "Connection requests that had to wait for a connection.",
)
DB_POOL_WAIT = Counter("grove_db_pool_wait_seconds", "Time spent waiting for a pooled connection.")
DB_POOL_ERRORS = Counter("grove_db_pool_errors", "Connection requests that failed (pool timeout).")

# --- Languages ------------------------------------------------------------------------------
MAX_LANG_LABELS = 64
OTHER_LANG = "other"
_labelled_langs: set[str] = set()
_langs_lock = threading.Lock()


def lang_label(lang: str | None) -> str:
    """``lang`` as a label value; past MAX_LANG_LABELS distinct codes (or for a code that is
    not a language tag), ``"other"``, so a client cannot grow the series without bound."""
    if lang in _labelled_langs:
        return lang
    if not lang or len(lang) > 32 or not lang.replace("-", "").replace("_", "").isalnum():
        return OTHER_LANG
    with _langs_lock:
        if len(_labelled_langs) >= MAX_LANG_LABELS:
            return OTHER_LANG
        _labelled_langs.add(lang)
    return lang


# --- Counting task events -------------------------------------------------------------------
# (counter, kind, lang) -> the counter's child: ``labels()`` validates and locks on each call
# (measured ~4 µs), a dict lookup does not.
_task_series: dict[tuple[Counter, str, str | None], Counter] = {}
MAX_CACHED_TASK_SERIES = 4096


def count_task(counter: Counter, task, *, on_commit: bool = True) -> None:
    """Count ``task`` (a trees ``Task``) on ``counter`` by its kind and language, once the
    current transaction commits (a rolled-back change counts nothing)."""
    key = (counter, task.payload_type, (task.payload or {}).get("lang"))
    child = _task_series.get(key)
    if child is None:
        child = counter.labels(key[1], lang_label(key[2]))
        if len(_task_series) < MAX_CACHED_TASK_SERIES:  # a client's odd codes stay uncached
            _task_series[key] = child
    if on_commit:
        transaction.on_commit(child.inc)
    else:
        child.inc()
