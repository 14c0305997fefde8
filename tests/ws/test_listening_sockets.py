"""Sockets that can hear events are counted across processes (``backend.listeners``): a
socket is in the set once it joins an event group (a subscription) and leaves it when it
closes; a refused socket, or one that only waits for pushed work, never enters it."""

from __future__ import annotations

import redis
from django.conf import settings

from backend import listeners
from tests.api.conftest import protocol_user
from tests.ws.conftest import TIMEOUT, new_frontend, send, ws_db

pytestmark = ws_db


def _open_sockets() -> int:
    return redis.Redis.from_url(settings.CACHE_URL).zcard(listeners.KEY)


async def test_a_socket_is_counted_while_open(sockets):
    assert listeners.enabled()
    before = _open_sockets()
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    subscribed = await send(socket, {"type": "subscribe", "user": protocol_user("ann")})
    assert subscribed["type"] == "subscribed"
    assert _open_sockets() == before + 1
    await socket.disconnect()
    assert _open_sockets() == before


async def test_a_refused_socket_is_not_counted(sockets):
    before = _open_sockets()
    socket = await sockets.connect("/ws/tasks/", key="not-a-key-of-anyone-0123456789abcdef")
    frame = await socket.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "error"
    assert _open_sockets() == before


async def test_a_socket_waiting_for_pushed_work_only_is_not_counted(sockets):
    """A socket that is only ``ready`` joins no event group, so no event can reach it: counted
    as listening, it made every claim send its ``task_assigned`` event to an empty group (a
    hop from the claim's thread to the event loop and a Redis round trip, about 8 % of a web
    process's GIL samples under push at 16 volunteers)."""
    before = _open_sockets()
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    ready = await send(socket, {"type": "ready", "user": protocol_user("ann")})
    assert ready["type"] == "ready_ok", ready
    assert _open_sockets() == before
    subscribed = await send(socket, {"type": "subscribe", "user": protocol_user("ann")})
    assert subscribed["type"] == "subscribed"
    assert _open_sockets() == before + 1
    await socket.disconnect()
    assert _open_sockets() == before
