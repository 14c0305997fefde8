"""Sample this process's PostgreSQL connection pool into the pool gauges every few seconds.

psycopg_pool counts its own use (``get_stats``); a daemon thread copies the numbers into
Prometheus every ``SAMPLE_SECONDS``, so no request pays for it. Started once per process:
by the request middleware's first instance in a web process, by ``worker_process_init`` in
a Celery pool process.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.db import connections

from backend.observability.metrics import (
    DB_POOL_CONNECTIONS,
    DB_POOL_ERRORS,
    DB_POOL_QUEUED,
    DB_POOL_WAIT,
    DB_POOL_WAITING,
)

SAMPLE_SECONDS = 5.0
logger = logging.getLogger("grove.observability")
_started_in: int | None = None
_start_lock = threading.Lock()


def existing_pool(alias: str = "default"):
    """The process's pool if it has opened one (``connection.pool`` would open it)."""
    wrapper = connections[alias]
    return getattr(type(wrapper), "_connection_pools", {}).get(alias)


class PoolSampler:
    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def sample(self) -> None:
        pool = existing_pool()
        if pool is None:
            return
        stats = pool.get_stats()
        DB_POOL_CONNECTIONS.labels("open").set(stats.get("pool_size", 0))
        DB_POOL_CONNECTIONS.labels("idle").set(stats.get("pool_available", 0))
        DB_POOL_CONNECTIONS.labels("max").set(stats.get("pool_max", 0))
        DB_POOL_WAITING.set(stats.get("requests_waiting", 0))
        for key, counter, scale in (
            ("requests_queued", DB_POOL_QUEUED, 1),
            ("requests_wait_ms", DB_POOL_WAIT, 1000),
            ("requests_errors", DB_POOL_ERRORS, 1),
        ):
            value = stats.get(key, 0)
            delta = value - self.last.get(key, 0)
            if delta > 0:
                counter.inc(delta / scale)
            self.last[key] = value

    def run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a sampling error must never end the thread quietly forever
                logger.warning("event=pool_sample_failed", exc_info=True)
            time.sleep(SAMPLE_SECONDS)


def start_pool_sampler() -> None:
    """Start the sampler thread in this process (once; again in a forked child)."""
    global _started_in
    with _start_lock:
        if _started_in == os.getpid():
            return
        _started_in = os.getpid()
    threading.Thread(target=PoolSampler().run, name="grove-pool-sampler", daemon=True).start()
