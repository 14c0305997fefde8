"""What the services tell push dispatch: a language's work may have grown, a task closed.

Both are sent after the transaction commits and cost nothing while no socket waits for work
anywhere: each process reads ``grove:push:active`` at most every ``ACTIVE_CHECK_SECONDS``
and otherwise sends nothing. A missed signal (Redis down, or the first second after the first
``ready``) only delays a push until the dispatcher's next poll (``GROVE_PUSH_POLL_SECONDS``).
Failures are logged, never raised: the change is committed, REST stays the source of truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import redis
from django.conf import settings
from django.db import transaction

from backend.push import keys

logger = logging.getLogger("grove.push")
ACTIVE_CHECK_SECONDS = 0.5

_client: redis.Redis | None = None
_active: tuple[float, bool] = (0.0, False)  # (checked until, answer)


def redis_client() -> redis.Redis | None:
    """This process's connection pool to the push Redis; None without one (embedded)."""
    global _client
    if _client is None and settings.GROVE_PUSH_REDIS_URL:
        _client = redis.Redis.from_url(
            settings.GROVE_PUSH_REDIS_URL,
            socket_timeout=settings.GROVE_CACHE_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=settings.GROVE_CACHE_SOCKET_TIMEOUT_SECONDS,
        )
    return _client


def is_active() -> bool:
    """Whether any socket may be waiting for work (read from Redis at most twice a second)."""
    global _active
    now = time.monotonic()
    if now < _active[0]:
        return _active[1]
    client = redis_client()
    answer = False
    if client is not None:
        try:
            answer = bool(client.exists(keys.ACTIVE))
        except redis.RedisError:
            logger.warning("event=push_active_check_failed")
    _active = (now + ACTIVE_CHECK_SECONDS, answer)
    return answer


def forget_active() -> None:
    """Read ``grove:push:active`` again at the next signal (a socket just became ready here)."""
    global _active
    _active = (0.0, False)


def work_changed(langs: Iterable[str]) -> None:
    """The ready work of ``langs`` changed in the current transaction (call inside it)."""
    langs = {lang for lang in langs if lang}
    if langs and is_active():
        transaction.on_commit(lambda: _publish(langs))


def task_closed(task) -> None:
    """``task`` (a trees ``Task``) was answered, skipped, closed, expired or returned (call
    inside the change's transaction): if it was pushed, its user's place frees up for the next
    task; in any case its slot is free for whoever waits in its language."""
    if is_active():
        lang = (task.payload or {}).get("lang", "")
        transaction.on_commit(lambda: release(str(task.id), lang))


def release(task_id: str, lang: str = "") -> None:
    client = redis_client()
    if client is None:
        return
    try:
        pushed_lang = client.eval(
            keys.RELEASE, 3, keys.task(task_id), keys.HELD, keys.ACK_DUE, task_id, _now_ms()
        )
        lang = pushed_lang.decode() if pushed_lang else lang
        if lang:
            client.publish(keys.WORK_CHANNEL, lang)
    except redis.RedisError:
        logger.exception("event=push_release_failed task=%s", task_id)


def _publish(langs: set[str]) -> None:
    client = redis_client()
    try:
        for lang in sorted(langs):
            client.publish(keys.WORK_CHANNEL, lang)
    except redis.RedisError:
        logger.warning("event=push_signal_failed langs=%s", ",".join(sorted(langs)))


def _now_ms() -> int:
    return int(time.time() * 1000)
