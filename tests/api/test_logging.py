"""Routine "no task available" answers stay out of the error log; real errors do not."""

from __future__ import annotations

import logging

from django.test import RequestFactory

from backend.log_filters import ExpectedUnavailable, RedactQuerySecrets


def record_for(path: str, status: int) -> logging.LogRecord:
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), None)
    record.status_code = status
    record.request = RequestFactory().post(path)
    return record


def test_no_task_available_is_not_logged_as_an_error():
    assert not ExpectedUnavailable().filter(record_for("/api/v1/tasks/", 503))


def test_other_server_errors_are_still_logged():
    assert ExpectedUnavailable().filter(record_for("/api/v1/tasks/", 500))
    assert ExpectedUnavailable().filter(record_for("/health", 503))


def test_uvicorn_log_lines_never_hold_a_key_from_the_query_string():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/ws/tasks/?lang=en&api_key=s3cret&x=1", "1.1", 200),
        None,
    )
    RedactQuerySecrets().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5 - "GET /ws/tasks/?lang=en&api_key=[redacted]&x=1 HTTP/1.1" 200'
    )
