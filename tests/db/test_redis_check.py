"""``listeners.RedisCheck``: the one "is anyone there?" read from Redis, kept per process for a
fraction of a second. Both the event sockets' count (``listeners``) and push readiness
(``push.signals.is_active``) are one."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from django.conf import settings

from backend import listeners
from backend.push import signals

KEY = "grove:test:redis-check"


@pytest.fixture
def client():
    if not settings.GROVE_PUSH_REDIS_URL:
        pytest.skip("needs Redis")
    found = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    found.delete(KEY)
    yield found
    found.delete(KEY)


def check(seconds: float, url: str | None = None) -> listeners.RedisCheck:
    return listeners.RedisCheck(
        url=lambda: settings.GROVE_PUSH_REDIS_URL if url is None else url,
        read=lambda c: c.exists(KEY),
        seconds=seconds,
        fallback=False,
        event="test_check_failed",
    )


def test_an_answer_is_kept_for_its_period_then_read_again(client):
    there = check(0.3)
    client.set(KEY, 1)
    assert there() is True
    client.delete(KEY)
    assert there() is True  # kept: no Redis call within the period
    time.sleep(0.35)
    assert there() is False


def test_forget_reads_again_at_once(client):
    there = check(60)
    assert there() is False
    client.set(KEY, 1)
    assert there() is False
    there.forget()
    assert there() is True


def test_an_unreachable_redis_answers_the_fallback_and_is_logged(caplog):
    there = check(60, url="redis://127.0.0.1:1/3")
    with caplog.at_level(logging.WARNING, logger="grove.listeners"):
        assert there() is False
    assert "event=test_check_failed" in caplog.text


def test_no_redis_configured_answers_the_fallback_without_asking():
    there = check(60, url="")
    assert there() is False
    assert there.client is None


def test_push_readiness_and_the_socket_count_are_both_redis_checks(client):
    assert isinstance(signals.is_active, listeners.RedisCheck)
    assert isinstance(listeners._counted_nobody, listeners.RedisCheck)
    from backend.push import keys

    client.delete(keys.ACTIVE)
    signals.forget_active()
    assert signals.is_active() is False
    client.set(keys.ACTIVE, 1, ex=10)
    assert signals.is_active() is False  # within ACTIVE_CHECK_SECONDS
    signals.forget_active()
    assert signals.is_active() is True
    client.delete(keys.ACTIVE)
    signals.forget_active()
