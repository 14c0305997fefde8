"""Opt-in SQL statement count per HTTP request, returned in the ``X-Grove-Queries`` header.

Benchmarks (``bench/cycles.py``) read it to report queries per task request from a server
running the production profile, where ``CaptureQueriesContext`` cannot reach. Enabled only
when ``GROVE_QUERY_COUNT_HEADER=true`` (settings add this middleware then); it costs one
Python call per statement, so production leaves it off.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

QUERY_COUNT_HEADER = "X-Grove-Queries"


class QueryCountMiddleware:
    """Counts every statement the request's thread sends on the default connection.

    Listed first in MIDDLEWARE so the statements of the other middleware count too. Under
    ASGI the synchronous middleware chain and the view run in one thread, so the wrapper on
    that thread's connection sees all of them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = 0

        def counting(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            response = self.get_response(request)
        response[QUERY_COUNT_HEADER] = str(count)
        return response
