"""GROVE_LOG_FORMAT=json: one JSON object per line, with the ids that join lines together."""

from __future__ import annotations

import io
import json
import logging

import pytest

from backend.observability import context
from backend.observability.logs import JsonFormatter


def formatted(name: str, message: str, *args, exc_info=None) -> dict:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, exc_info)
    return json.loads(JsonFormatter().format(record))


def test_a_grove_event_line_gives_each_pair_as_a_field():
    line = formatted(
        "grove.workers", "event=job_failed job=%s job_id=%s error=%r", "a.b", "7", "x y"
    )
    assert line["level"] == "WARNING" and line["logger"] == "grove.workers"
    assert line["event"] == "job_failed"
    assert line["job"] == "a.b" and line["job_id"] == "7"
    assert line["error"] == "x y"
    assert line["time"].endswith("+00:00")


def test_a_line_written_during_a_request_names_the_request():
    token = context.request_id.set("req-42")
    try:
        line = formatted("django.request", "Service Unavailable: /api/v1/tasks/")
    finally:
        context.request_id.reset(token)
    assert line["request_id"] == "req-42"
    assert "event" not in line


def test_an_exception_is_one_field_of_the_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        line = formatted("grove.events", "event=push_failed type=%s", "x", exc_info=sys.exc_info())
    assert "ValueError: boom" in line["exception"]


def test_uvicorn_access_lines_are_split_into_fields():
    line = formatted(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        "10.0.0.1:5000",
        "POST",
        "/api/v1/tasks/",
        "1.1",
        200,
    )
    assert (line["client"], line["method"], line["path"], line["status"]) == (
        "10.0.0.1:5000",
        "POST",
        "/api/v1/tasks/",
        200,
    )


@pytest.mark.django_db
def test_the_lines_a_request_logs_carry_the_id_its_answer_names(frontend):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    journal = logging.getLogger("grove.journal")  # a hand-out journals task_created
    journal.addHandler(handler)
    try:
        response = frontend.post(
            "tasks/",
            {
                "type": "initial_prompt",
                "user": {"id": "a", "display_name": "A", "auth_method": "local"},
            },
        )
    finally:
        journal.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    created = [line for line in lines if line.get("event") == "task_created"]
    assert created and created[0]["request_id"] == response["X-Request-ID"]
