"""A web process whose PostgreSQL cannot be reached answers 503 in OA's error shape, in
bounded time, and its ``/health`` says so within its deadline (a real uvicorn process)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from email.message import Message

import pytest
from django.conf import settings

from tests.faults.processes import closed_port, grove_environment, start_web, stop

pytestmark = pytest.mark.faults
# The pool waits GROVE_DB_POOL_TIMEOUT_SECONDS (default 5) for a connection it cannot open;
# /health answers within its own 2 s deadline whatever the pool waits.
POOL_TIMEOUT_SECONDS = 5


def call(url: str, *, method: str = "GET", body: dict | None = None) -> tuple[int, Message, dict]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-API-Key": "a-key-nobody-can-check-now", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read() or "null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or "null")


@pytest.fixture(scope="module")
def web_without_database(tmp_path_factory):
    env = grove_environment(
        database_url=f"postgres://postgres@127.0.0.1:{closed_port()}/grove",
        redis_url=settings.REDIS_URL,
        GROVE_VAR_DIR=str(tmp_path_factory.mktemp("var")),
    )
    process, base_url = start_web(env, tmp_path_factory.mktemp("web") / "web.log")
    yield base_url
    stop(process)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/auth/check", None),
        ("POST", "/api/v1/tasks/", {"type": "random", "user": {"id": "a", "auth_method": "local"}}),
    ],
)
def test_a_request_that_cannot_reach_the_database_answers_503_in_oa_shape(
    web_without_database, method, path, body
):
    started = time.monotonic()
    status, headers, answer = call(f"{web_without_database}{path}", method=method, body=body)

    assert status == 503, answer
    assert set(answer) == {"message", "error_code"}
    assert answer["error_code"] == 500
    assert int(headers["Retry-After"]) > 0
    assert time.monotonic() - started < POOL_TIMEOUT_SECONDS + 3


def test_health_says_the_database_is_down_within_its_deadline(web_without_database):
    started = time.monotonic()
    status, _, answer = call(f"{web_without_database}/health")

    assert status == 503
    assert answer["checks"]["database"]["ok"] is False
    assert answer["checks"]["broker"]["ok"] is True
    assert time.monotonic() - started < 3.0


def test_readiness_fails_while_the_database_is_down(web_without_database):
    status, _, answer = call(f"{web_without_database}/health/ready")

    assert status == 503
    assert answer["checks"]["database"]["ok"] is False
    assert answer["checks"]["migrations"]["ok"] is False  # unknowable without the database
    assert answer["checks"]["channel_layer"]["ok"] is True
