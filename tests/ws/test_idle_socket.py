"""An idle socket stays open through the Redis channel layer (client-compat F3).

redis-py's default ``socket_timeout`` (5 s) equals channels_redis's blocking read, so every
socket that received nothing for about 5 s died with ``TimeoutError`` and no close frame.
One test, held for a minute: it runs once, in the whole-suite run (marked slow).
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from tests.api.conftest import protocol_user
from tests.ws.conftest import TIMEOUT, new_frontend, send, ws_db

pytestmark = [ws_db, pytest.mark.slow]

ALICE = protocol_user("alice")
IDLE_SECONDS = 60


async def test_idle_socket_gets_keepalives_for_a_minute_then_its_push(sockets):
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert (await send(socket, {"type": "subscribe", "user": ALICE}))["type"] == "subscribed"

    keepalives = 0
    loop = asyncio.get_running_loop()
    until = loop.time() + IDLE_SECONDS
    while (left := until - loop.time()) > 0:
        if await socket.receive_nothing(timeout=min(left, 1)):
            continue
        frame = await socket.receive_json_from(timeout=TIMEOUT)
        assert frame == {"type": "keepalive"}, frame
        keepalives += 1
    assert keepalives >= IDLE_SECONDS // settings.GROVE_WS_KEEPALIVE_SECONDS

    post = sync_to_async(frontend.post)
    task = (await post("tasks/", {"type": "initial_prompt", "user": ALICE})).json()
    pushed = await socket.receive_json_from(timeout=TIMEOUT)
    assert pushed["type"] == "task_assigned" and pushed["task"] == task
