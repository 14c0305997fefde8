"""A closed task's release (``push.signals.release``) runs as a cached script on Redis."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from backend.push import signals
from tests.ws.conftest import _forget_push_state


def last_command_of(observer: redis.Redis, sock) -> str:
    host, port = sock.getsockname()[:2]
    found = [c for c in observer.client_list() if c["addr"] == f"{host}:{port}"]
    assert found, f"connection from {host}:{port} not found"
    return found[0]["cmd"]


def test_a_release_sends_the_script_by_its_digest_not_its_text():
    """Every closed task released its place with EVAL: 1.1 KB of script text sent, and
    hashed by Redis, once per task cycle (58 us of Redis per call against EVALSHA's few)."""
    if not settings.GROVE_PUSH_REDIS_URL:
        pytest.skip("push dispatch needs Redis")
    _forget_push_state()
    observer = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    try:
        for _ in range(2):  # the first may load the script
            assert signals.release("no-such-task", "en", signal=False) == ("en", "", None)
        own = signals.lean_scripts()._local.connection.sock  # this thread's connection
        assert last_command_of(observer, own) == "evalsha"
    finally:
        observer.close()
        _forget_push_state()
