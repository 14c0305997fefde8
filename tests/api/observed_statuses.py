"""Which status each v1 operation really answered during the API tests.

``record_statuses`` wraps Django's test client (``APIClient`` goes through it too) for one test
and notes ``(OpenAPI path, method, status)`` of every response to a v1 route;
``test_openapi_statuses`` compares the whole session's notes with the OpenAPI document.
"""

from __future__ import annotations

import re

from django.test.client import Client
from django.urls import Resolver404, resolve

OBSERVED: dict[tuple[str, str, int], str] = {}  # (path, method, status) -> first test seen in
UNDOCUMENTED_VIEWS = {"openapi-schema", "api-docs", "api-redoc", "asyncapi", "api-index"}
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def openapi_path(route: str) -> str:
    """``api/v1/tasks/<uuid:task_id>/ack`` -> ``/api/v1/tasks/{task_id}/ack``."""
    return "/" + _CONVERTER.sub(r"{\1}", route)


def operation_of(path_info: str, method: str) -> tuple[str, str] | None:
    """The OpenAPI (path, method) a request was routed to; None outside the v1 API."""
    try:
        match = resolve(path_info)
    except Resolver404:
        return None
    if not match.route.startswith("api/v1/") or match.url_name in UNDOCUMENTED_VIEWS:
        return None
    return openapi_path(match.route), method.lower()


def record_statuses(monkeypatch, test_name: str) -> None:
    original = Client.request

    def request(self, **environ):
        response = original(self, **environ)
        operation = operation_of(environ["PATH_INFO"], environ["REQUEST_METHOD"])
        if operation is not None:
            OBSERVED.setdefault((*operation, response.status_code), test_name)
        return response

    monkeypatch.setattr(Client, "request", request)
