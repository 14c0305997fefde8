"""An idle socket stays open through the Redis channel layer (client-compat F3).

redis-py's default ``socket_timeout`` (5 s) equals channels_redis's blocking read, so every
socket that received nothing for about 5 s died with ``TimeoutError`` and no close frame.
One test, idle for 20 s (four of those 5 s reads) with a keepalive every 4 s (25 s by default:
the interval changes how often a frame comes, not how long the channel layer's reads wait).
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from tests.api.conftest import protocol_user
from tests.ws.conftest import TIMEOUT, new_frontend, send, ws_db

pytestmark = [ws_db, pytest.mark.slow]

ALICE = protocol_user("alice")
IDLE_SECONDS = 20
KEEPALIVE_SECONDS = 4
MAX_KEEPALIVES_BEFORE_PUSH = 2


async def test_idle_socket_gets_keepalives_while_idle_then_its_push(sockets, settings):
    settings.GROVE_WS_KEEPALIVE_SECONDS = KEEPALIVE_SECONDS
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
    assert keepalives >= IDLE_SECONDS // KEEPALIVE_SECONDS - 1

    post = sync_to_async(frontend.post)
    task = (await post("tasks/", {"type": "initial_prompt", "user": ALICE})).json()
    # A keepalive may fall due between the idle watch and the push (the POST takes its time
    # on a loaded machine): at most two come first, nothing else.
    before = []
    pushed = await socket.receive_json_from(timeout=TIMEOUT)
    while pushed == {"type": "keepalive"} and len(before) < MAX_KEEPALIVES_BEFORE_PUSH:
        before.append(pushed)
        pushed = await socket.receive_json_from(timeout=TIMEOUT)
    assert pushed["type"] == "task_assigned" and pushed["task"] == task, (before, pushed)
