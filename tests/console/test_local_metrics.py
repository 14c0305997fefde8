"""p50/p99 of task requests from the latency histogram's cumulative buckets."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Histogram

from backend.console.local_metrics import (
    CounterWindow,
    LatencyWindow,
    quantile,
    task_request_buckets,
    unserved_requests,
)

INF = math.inf


def test_quantile_interpolates_inside_the_bucket_as_prometheus_does():
    # 100 requests: 50 under 10 ms, 49 more under 50 ms, 1 under 100 ms.
    buckets = {0.01: 50, 0.05: 99, 0.1: 100, INF: 100}

    assert quantile(0.5, buckets) == 0.01
    assert math.isclose(quantile(0.99, buckets), 0.05)
    assert math.isclose(quantile(0.25, buckets), 0.005)


def test_quantile_in_the_open_bucket_answers_the_highest_finite_bound():
    assert quantile(0.99, {0.1: 1, 1.0: 1, INF: 10}) == 1.0


def test_quantile_of_no_request_is_unknown():
    assert quantile(0.5, {0.1: 0, INF: 0}) is None
    assert quantile(0.5, {}) is None


def test_window_answers_for_the_requests_between_its_samples():
    window = LatencyWindow(seconds=60)
    window.observe({0.01: 1000, 1.0: 1000, INF: 1000}, now=0)  # an old, fast history

    latest = window.observe({0.01: 1000, 1.0: 1010, INF: 1010}, now=30)

    assert latest["requests"] == 10
    assert latest["span_seconds"] == 30
    assert 10 < latest["p50_ms"] <= 1000  # the ten new requests were all slow


def test_window_forgets_samples_older_than_its_span():
    window = LatencyWindow(seconds=60)
    window.observe({INF: 0, 0.1: 0}, now=0)
    window.observe({INF: 5, 0.1: 5}, now=50)
    latest = window.observe({INF: 7, 0.1: 7}, now=120)

    assert (latest["requests"], latest["span_seconds"]) == (2, 70)


def test_buckets_are_read_for_post_task_requests_only():
    registry = CollectorRegistry()
    histogram = Histogram(
        "grove_http_request_duration_seconds",
        "test",
        ["route", "method"],
        buckets=(0.01, 0.1),
        registry=registry,
    )
    histogram.labels("api/v1/tasks/", "POST").observe(0.05)
    histogram.labels("api/v1/tasks/", "GET").observe(0.005)
    histogram.labels("api/v1/tasks/interaction", "POST").observe(0.005)

    assert task_request_buckets(registry) == {0.01: 0.0, 0.1: 1.0, INF: 1.0}


def test_unserved_requests_count_only_none_available_per_language():
    registry = CollectorRegistry()
    counter = Counter(
        "grove_task_requests_unserved", "test", ["requested", "lang", "reason"], registry=registry
    )
    counter.labels("random", "de", "none_available").inc(3)
    counter.labels("initial_prompt", "de", "none_available").inc()
    counter.labels("random", "en", "too_many_pending").inc(5)

    assert unserved_requests(registry) == {"de": 4.0}


def test_counter_window_reports_the_increase_since_its_oldest_sample():
    window = CounterWindow(seconds=60)
    assert window.observe({"de": 10.0}, now=0) == {}  # counted before the console looked

    assert window.observe({"de": 12.0, "fr": 1.0}, now=20) == {"de": 2, "fr": 1}
    assert window.observe({"de": 15.0, "fr": 1.0}, now=90) == {"de": 3}  # from t=20 on
