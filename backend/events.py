"""Domain events pushed to websockets through the channel layer, after the write commits.

A service calls ``publish`` inside its transaction; the push is registered with
``transaction.on_commit``, so a rolled-back write never announces anything and a socket never
hears of a row it cannot read yet. A failed push (Redis down, a full channel) is logged and
dropped: the REST protocol stays the source of truth, websockets are a courtesy.

Groups (Channels allows ``[a-zA-Z0-9._-]``, fewer than 100 characters):

- ``client.<client id>.user.<user id>``: events for one user of one API client;
- ``client.<client id>.lang.<lang>``: events for every socket of one client following ``lang``;
- ``admin``: trusted clients' admin sockets.

The message sent to a group is ``{"type": "grove.event", "event": ..., "payload": {...}}``;
the consumers in ``frontend_api/ws/`` turn it into the wire shape.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from backend import listeners
from backend.observability.metrics import EVENT_PUSH_FAILURES

logger = logging.getLogger("grove.events")

ADMIN_GROUP = "admin"
CHANNEL_MESSAGE_TYPE = "grove.event"  # handled by the consumers' ``grove_event`` method
LANG_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

Id = uuid.UUID | str


def user_group(api_client_id: Id, user_id: Id) -> str:
    return f"client.{api_client_id}.user.{user_id}"


def lang_group(api_client_id: Id, lang: str) -> str:
    if not LANG_PATTERN.match(lang):
        raise ValueError(f"language code {lang!r} must match {LANG_PATTERN.pattern}")
    return f"client.{api_client_id}.lang.{lang}"


def publish(
    event_type: str,
    payload: dict,
    *,
    api_client_id: Id | None = None,
    user_ids: Iterable[Id] = (),
    lang: str | None = None,
    admin: bool = True,
) -> None:
    """Push ``event_type`` once the current transaction commits.

    ``user_ids`` (users of ``api_client_id``) get it on their user group; ``lang`` sends it to
    that client's language group, or to the language group of every enabled client when
    ``api_client_id`` is None; ``admin`` sends it to the admin sockets. ``payload`` must be
    JSON-serialisable (ids as strings).
    """
    user_ids = tuple(user_ids)
    if user_ids and api_client_id is None:
        raise ValueError("user events need the users' api_client_id")
    if listeners.nobody_listening():  # no socket is open anywhere (``backend.listeners``)
        return
    message = {"type": CHANNEL_MESSAGE_TYPE, "event": event_type, "payload": payload}

    def push() -> None:
        try:
            groups = _groups(api_client_id, user_ids, lang, admin)
            if _own_loop is not None:
                _own_loop.run(_send(groups, message), PUSH_DEADLINE_SECONDS)
            else:
                async_to_sync(_send_within_deadline)(groups, message)
        except Exception:  # a lost push must never fail the committed request or job
            EVENT_PUSH_FAILURES.labels(event_type).inc()
            logger.exception("event=push_failed type=%s client=%s", event_type, api_client_id)

    transaction.on_commit(push)


# A push waits at most this long for the channel layer: its Redis read timeout is long (30 s,
# for idle websockets), and a paused Redis must not hold the request that committed.
PUSH_DEADLINE_SECONDS = 2.0


class _LoopThread:
    """An event loop of this process's own, on a daemon thread, that pushes are sent from
    outside a server: the channel layer keeps its Redis connections per loop, and
    ``async_to_sync`` in a Celery job made a new loop, and a new connection, for each push
    (py-spy of the worker under push_cycles: about a quarter of an advance job's time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.pid = 0

    def _started(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            # A forked child (a prefork pool process) has the loop but not its thread.
            if self.loop is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.loop, self.pid = asyncio.new_event_loop(), os.getpid()
                self.thread = threading.Thread(
                    target=self.loop.run_forever, name="grove-events", daemon=True
                )
                self.thread.start()
            return self.loop

    def run(self, coroutine, timeout: float):
        future = asyncio.run_coroutine_threadsafe(coroutine, self._started())
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise


_own_loop: _LoopThread | None = None


def send_from_own_loop() -> None:
    """Send this process's pushes from a loop of its own (a Celery worker: no server loop)."""
    global _own_loop
    if _own_loop is None:
        _own_loop = _LoopThread()


async def _send_within_deadline(groups: list[str], message: dict) -> None:
    await asyncio.wait_for(_send(groups, message), timeout=PUSH_DEADLINE_SECONDS)


async def _send(groups: list[str], message: dict) -> None:
    # One event loop for all the groups: outside a server (a Celery worker) every
    # ``async_to_sync`` call starts a loop and the layer opens a Redis connection for it.
    layer = get_channel_layer()
    for group in groups:
        await layer.group_send(group, message)


def publish_to_author(event_type: str, message, **fields) -> None:
    """An event about ``message`` (a trees ``Message``) for the user who wrote it."""
    publish(
        event_type,
        {
            "message_id": str(message.id),
            "message_tree_id": str(message.message_tree_id),
            "frontend_message_id": message.frontend_message_id,
            "user_id": str(message.user_id),
            **fields,
        },
        api_client_id=message.api_client_id,
        user_ids=[message.user_id],
    )


def publish_to_assignee(event_type: str, task) -> None:
    """An event about ``task`` (a trees ``Task``) for the user it was handed to; the consumer
    renders the task itself (the wire shape belongs to the protocol module)."""
    if task.user_id is None:
        return
    publish(
        event_type,
        {"task_id": str(task.id), "user_id": str(task.user_id)},
        api_client_id=task.api_client_id,
        user_ids=[task.user_id],
        admin=False,
    )


def _groups(
    api_client_id: Id | None, user_ids: tuple[Id, ...], lang: str | None, admin: bool
) -> list[str]:
    groups = [user_group(api_client_id, user_id) for user_id in user_ids]
    if lang is not None and LANG_PATTERN.match(lang):
        if api_client_id is not None:
            groups.append(lang_group(api_client_id, lang))
        else:
            from backend.accounts.selectors import enabled_api_client_ids

            groups.extend(lang_group(client_id, lang) for client_id in enabled_api_client_ids())
    if admin:
        groups.append(ADMIN_GROUP)
    return groups
