"""The opt-in X-Grove-Queries header counts the SQL statements of one request exactly."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.query_count import QUERY_COUNT_HEADER, QueryCountMiddleware
from tests.api.conftest import protocol_user

pytestmark = pytest.mark.django_db

MIDDLEWARE_PATH = f"{QueryCountMiddleware.__module__}.{QueryCountMiddleware.__name__}"


def test_header_counts_every_statement_of_a_task_request(frontend, settings):
    settings.MIDDLEWARE = [MIDDLEWARE_PATH, *settings.MIDDLEWARE]
    body = {"type": "initial_prompt", "user": protocol_user("alice"), "lang": "en"}
    with CaptureQueriesContext(connection) as captured:
        response = frontend.post("tasks/", body)
    assert response.status_code == 200
    assert len(captured.captured_queries) > 0
    assert response[QUERY_COUNT_HEADER] == str(len(captured.captured_queries))


def test_header_is_absent_unless_enabled(frontend, settings):
    assert MIDDLEWARE_PATH not in settings.MIDDLEWARE
    response = frontend.post("tasks/", {"type": "initial_prompt", "user": protocol_user("bob")})
    assert QUERY_COUNT_HEADER not in response
