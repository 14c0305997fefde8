"""Figures the console reads from this machine's Prometheus metrics, which the middleware and
the services already count: p50 and p99 of task requests (``POST /api/v1/tasks/``, from
``grove_http_request_duration_seconds``) and task requests answered "no task available" per
language (``grove_task_requests_unserved``: volunteers asking over REST and getting nothing).

The metrics are cumulative since each process started. The windows here keep a minute of
samples and answer for what happened between the oldest and the newest, as Prometheus's
``rate(...[1m])`` would. They cover the processes of this machine (all of them with
``PROMETHEUS_MULTIPROC_DIR``, else this one): a deployment-wide figure is Prometheus's job
(the Grafana dashboard).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping

TASK_REQUEST_ROUTE = "api/v1/tasks/"
TASK_REQUEST_METHOD = "POST"
HISTOGRAM = "grove_http_request_duration_seconds"
UNSERVED = "grove_task_requests_unserved"
UNSERVED_REASON = "none_available"  # not "too_many_pending": that user has work already
WINDOW_SECONDS = 60.0

Buckets = dict[float, float]  # upper bound (le) -> cumulative count


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The ``q`` quantile of a cumulative histogram, interpolated linearly inside its bucket
    as Prometheus's ``histogram_quantile`` does; None with no observation. A quantile in the
    ``+Inf`` bucket answers the highest finite bound."""
    bounds = sorted(buckets)
    if not bounds:
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            in_bucket = count - lower_count
            if in_bucket <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / in_bucket
        lower_bound, lower_count = bound, count
    return lower_bound


def machine_registry():
    """This machine's metrics: every process's with ``PROMETHEUS_MULTIPROC_DIR``, else this
    process's."""
    from backend.observability.exposition import worker_registry

    return worker_registry()


def sample_machine() -> tuple[Buckets, dict[str, float]]:
    """Task-request buckets and unserved requests per language, read now."""
    registry = machine_registry()
    return task_request_buckets(registry), unserved_requests(registry)


def task_request_buckets(registry=None) -> Buckets:
    """The histogram's cumulative buckets for task requests."""
    registry = registry or machine_registry()
    buckets: Buckets = {}
    for family in registry.collect():
        if family.name != HISTOGRAM:
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == f"{HISTOGRAM}_bucket"
                and labels.get("route") == TASK_REQUEST_ROUTE
                and labels.get("method") == TASK_REQUEST_METHOD
            ):
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


class LatencyWindow:
    """Samples of the cumulative histogram over the last ``seconds``; p50/p99 of what was
    observed between the oldest and the newest."""

    def __init__(self, seconds: float = WINDOW_SECONDS):
        self.seconds = seconds
        self.samples: deque[tuple[float, Buckets]] = deque()

    def observe(self, buckets: Buckets, now: float | None = None) -> dict:
        now = time.monotonic() if now is None else now
        self.samples.append((now, buckets))
        while len(self.samples) > 2 and self.samples[1][0] <= now - self.seconds:
            self.samples.popleft()
        oldest_at, oldest = self.samples[0]
        if len(self.samples) == 1:
            delta, span = buckets, None  # since the process started
        else:
            delta = {bound: count - oldest.get(bound, 0.0) for bound, count in buckets.items()}
            span = round(now - oldest_at, 1)
        requests = max(delta.values(), default=0.0)
        p50, p99 = quantile(0.5, delta), quantile(0.99, delta)
        return {
            "requests": int(requests),
            "span_seconds": span,
            "p50_ms": None if p50 is None else round(p50 * 1000, 1),
            "p99_ms": None if p99 is None else round(p99 * 1000, 1),
        }


def unserved_requests(registry=None) -> dict[str, float]:
    """Task requests answered "no task available" so far, per language."""
    registry = registry or machine_registry()
    counts: dict[str, float] = {}
    for family in registry.collect():
        if family.name != UNSERVED:
            continue
        for sample in family.samples:
            if sample.name == f"{UNSERVED}_total" and sample.labels["reason"] == UNSERVED_REASON:
                lang = sample.labels["lang"]
                counts[lang] = counts.get(lang, 0.0) + sample.value
    return counts


class CounterWindow:
    """Samples of per-label counters over the last ``seconds``; the increase per label between
    the oldest and the newest (none with one sample: what came before it is not "recent")."""

    def __init__(self, seconds: float = WINDOW_SECONDS):
        self.seconds = seconds
        self.samples: deque[tuple[float, dict[str, float]]] = deque()

    def observe(self, counts: dict[str, float], now: float | None = None) -> dict[str, int]:
        now = time.monotonic() if now is None else now
        self.samples.append((now, counts))
        while len(self.samples) > 2 and self.samples[1][0] <= now - self.seconds:
            self.samples.popleft()
        oldest = self.samples[0][1]
        increase = {label: int(value - oldest.get(label, 0.0)) for label, value in counts.items()}
        return {label: n for label, n in increase.items() if n > 0}
