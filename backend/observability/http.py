"""Around every HTTP request: its id for the logs, and its count and latency for Prometheus.

Listed first in ``MIDDLEWARE`` so it measures the whole chain. The route label is the URL
pattern Django resolved (``api/v1/tasks/<uuid:task_id>/ack``), never the path itself, so ids
do not become series; unresolved paths (404s, static files) share one label each.

Its cost is a clock read, a context variable, one counter and one histogram per request:
measured with ``bench/cycle_cpu.py`` (README "Observability").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from backend.observability import context
from backend.observability.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS
from backend.observability.pool import start_pool_sampler

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
STATIC_ROUTE = "<static>"


class RequestObservationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")
        # (route, method, status) -> (counter child, histogram child): labels() takes a lock
        # and builds a key on every call; the children do not change.
        self.series: dict[tuple[str, str, int], tuple] = {}
        if settings.GROVE_DB_POOL:
            start_pool_sampler()
        from backend.console.deployment import start_flusher

        start_flusher()  # the console's deployment-wide figures, flushed to Redis

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = context.incoming_request_id(request.META.get(context.REQUEST_ID_META))
        token = context.request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(token)
        response[context.REQUEST_ID_HEADER] = request_id
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        if match is not None:
            route = match.route
        elif request.path.startswith(self.static_prefix):
            route = STATIC_ROUTE
        else:
            route = UNMATCHED_ROUTE
        method = request.method if request.method in KNOWN_METHODS else "other"
        key = (route, method, response.status_code)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = (
                HTTP_REQUESTS.labels(route, method, str(response.status_code)),
                HTTP_REQUEST_DURATION.labels(route, method),
            )
        series[0].inc()
        series[1].observe(elapsed)
        return response
