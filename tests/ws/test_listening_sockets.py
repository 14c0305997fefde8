"""Open sockets are counted across processes (``backend.listeners``): a socket is in the set
once authenticated and leaves it when it closes; a refused socket never enters it."""

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
