"""What the services tell push dispatch: a language's work may have grown, a task closed.

Both are sent after the transaction commits and cost nothing while no socket waits for work
anywhere: each process reads ``grove:push:active`` at most every ``ACTIVE_CHECK_SECONDS``
and otherwise sends nothing. A missed signal (Redis down, or the first second after the first
``ready``) only delays a push until the dispatcher's next poll (``GROVE_PUSH_POLL_SECONDS``).
Failures are logged, never raised: the change is committed, REST stays the source of truth.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator

import redis
from django.conf import settings
from django.db import transaction

from backend import lean_redis
from backend.listeners import RedisCheck
from backend.push import keys

logger = logging.getLogger("grove.push")
ACTIVE_CHECK_SECONDS = 0.5

_client: redis.Redis | None = None


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


_lean: lean_redis.SyncScripts | None = None
RELEASE = lean_redis.Script(keys.RELEASE)
RELEASE_RETURNING = lean_redis.Script(keys.RELEASE_RETURNING)
PUBLISH_WAITED = lean_redis.Script(keys.PUBLISH_WAITED)


def lean_scripts() -> lean_redis.SyncScripts | None:
    """The push Redis for scripts (``release``, the lease sweep's): by digest, on a kept-open
    connection per thread (``backend.lean_redis``); None without push Redis (embedded)."""
    global _lean
    if _lean is None and settings.GROVE_PUSH_REDIS_URL:
        _lean = lean_redis.sync_scripts(
            settings.GROVE_PUSH_REDIS_URL, timeout=settings.GROVE_CACHE_SOCKET_TIMEOUT_SECONDS
        )
    return _lean


# Whether any socket may be waiting for work (read from Redis at most twice a second; not
# known: no signal, the dispatcher's poll finds the work).
is_active = RedisCheck(
    url=lambda: settings.GROVE_PUSH_REDIS_URL,
    read=lambda client: client.exists(keys.ACTIVE),
    seconds=ACTIVE_CHECK_SECONDS,
    fallback=False,
    event="push_active_check_failed",
)


def forget_active() -> None:
    """Read ``grove:push:active`` again at the next signal (a socket just became ready here)."""
    is_active.forget()


def work_channel() -> str:
    """This instance's pub/sub channel of work signals (``keys.work_channel``)."""
    return keys.work_channel(settings.GROVE_PUSH_REDIS_URL)


@dataclasses.dataclass
class SocketAnswer:
    """An answer given on a push socket (``frontend_api.ws.answers``): a task it closes that
    was pushed to that socket's ``session`` leaves its user out of line, in ``returning``, and
    the socket serves them next itself (``Dispatcher.serve_returning``): no signal, no round
    in every process, no trip through the channel layer for the push that follows."""

    session: str
    # The dispatcher's arguments of ``keys.RETURNING`` other than the entry and the time (its
    # caps, its token, how far a line is looked through): with them the release runs
    # RETURNING in the same call (``keys.RELEASE_RETURNING``), and ``returning`` holds its
    # answers.
    line_args: tuple = ()
    # (entry id, RETURNING's answer, or None when the socket still has to ask for it)
    returning: list[tuple[str, list | None]] = dataclasses.field(default_factory=list)


_socket_answer: contextvars.ContextVar[SocketAnswer | None] = contextvars.ContextVar(
    "grove_push_socket_answer", default=None
)


@contextlib.contextmanager
def answering_on(session: str | None, line_args: tuple = ()) -> Iterator[SocketAnswer | None]:
    """Run an answer given on the socket of push ``session`` (None: not a push socket)."""
    if session is None:
        yield None
        return
    answer = SocketAnswer(session, line_args)
    token = _socket_answer.set(answer)
    try:
        yield answer
    finally:
        _socket_answer.reset(token)


class _AfterCommit:
    """What one transaction tells push dispatch, sent once after it commits: the tasks to
    release, then one signal per language. An answer used to send two or three signals for one
    language (the task closed, its tree's work, its language's prompts), and each signal ran a
    round in every web process."""

    def __init__(self) -> None:
        self.langs: set[str] = set()
        self.released: dict[str, tuple[str, bool]] = {}  # task id -> its lang, slot freed

    def __call__(self) -> None:
        langs = set(self.langs)
        answer = _socket_answer.get()
        for task_id, (lang, slot_freed) in self.released.items():
            lang, kept, line = release(
                task_id,
                lang,
                keep_for=answer.session if answer else "",
                line_args=answer.line_args if answer else (),
                signal=False,
            )
            if kept and answer is not None:
                answer.returning.append((kept, line))
            # The language is signalled for the others waiting in it when the task's slot
            # went back to the pool (skipped, returned), or for its user when no socket
            # serves them: an answered task's slot is spent, its new work signalled apart.
            if slot_freed or not kept:
                langs.add(lang)
        _publish(langs - {""})


def _after_commit() -> _AfterCommit | None:
    """This transaction's pending signals (registered on first use); None outside one."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _AfterCommit):
            return callback
    pending = _AfterCommit()
    transaction.on_commit(pending)
    return pending


def work_changed(langs: Iterable[str]) -> None:
    """The ready work of ``langs`` changed in the current transaction (call inside it)."""
    langs = {lang for lang in langs if lang}
    if langs and is_active():
        pending = _after_commit()
        if pending is None:
            _publish(langs)
        else:
            pending.langs |= langs


def task_closed(task) -> None:
    """``task`` (a trees ``Task``) was answered, skipped, closed, expired or returned (call
    inside the change's transaction): if it was pushed, its user's place frees up for the next
    task; in any case its slot is free for whoever waits in its language."""
    if is_active():
        lang = (task.payload or {}).get("lang", "")
        pending = _after_commit()
        if pending is None:
            release(str(task.id), lang)
        else:
            pending.released[str(task.id)] = (lang, not task.done)


def release(
    task_id: str,
    lang: str = "",
    *,
    keep_for: str = "",
    line_args: tuple = (),
    signal: bool = True,
) -> tuple[str, str, list | None]:
    """Free the place of a pushed task that closed: (its language, ``lang`` when it was not
    pushed; the entry kept out of line for the socket of session ``keep_for`` to serve, or
    ''; RETURNING's answer for that entry when ``line_args`` came with ``keep_for``, else
    None). The language is signalled unless ``signal`` is False (the caller signals it)."""
    scripts = lean_scripts()
    if scripts is None:
        return "", "", None
    script_keys = [keys.task(task_id), keys.HELD, keys.ACK_DUE]
    now = _now_ms()
    try:
        if keep_for and line_args:
            socket_cap, client_cap, token, looked = line_args
            found = scripts.run(
                RELEASE_RETURNING,
                script_keys,
                [task_id, socket_cap, client_cap, token, now, looked, keep_for],
            )
        else:
            found = scripts.run(RELEASE, script_keys, [task_id, now, keep_for])
    except redis.RedisError:
        logger.exception("event=push_release_failed task=%s", task_id)
        return lang, "", None
    kept, line = "", None
    if found:  # it was pushed
        pushed_lang, kept = found[0].decode(), found[1].decode()
        lang = pushed_lang or lang
        if kept and line_args:
            line = list(found[2:])
    if signal and not kept:
        _publish({lang} - {""})
    return lang, kept, line


def _publish(langs: set[str]) -> None:
    """Signal ``langs`` to every web process, those with someone in line only
    (``keys.PUBLISH_WAITED``): one call however many languages."""
    scripts = lean_scripts()
    if scripts is None or not langs:
        return
    ordered = sorted(langs)
    try:
        scripts.run(
            PUBLISH_WAITED, [keys.ready(lang) for lang in ordered], [work_channel(), *ordered]
        )
    except redis.RedisError:
        logger.warning("event=push_signal_failed langs=%s", ",".join(ordered))


def _now_ms() -> int:
    return int(time.time() * 1000)
