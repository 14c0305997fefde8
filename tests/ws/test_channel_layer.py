"""Grove's Redis channel layer (``backend.channels_redis_layer``) on the real Redis."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

from backend import events, listeners
from backend.accounts.models import User
from tests.api.conftest import protocol_user
from tests.redis_monitor import commands_on
from tests.ws.conftest import TIMEOUT, new_frontend, receive_event, send, ws_db

pytestmark = ws_db


async def test_a_send_to_an_empty_group_is_one_round_trip_and_a_member_still_gets_it(sockets):
    layer = get_channel_layer()
    if "Redis" not in type(layer).__name__:
        pytest.skip("the Redis channel layer only")
    with commands_on(settings.CHANNEL_LAYER_URL) as sent:
        await layer.group_send("nobody-follows", {"type": "grove.event", "n": 1})
    # The group's members counted, not read (channels_redis read them in a second trip).
    names = [command.name for command in sent]
    assert names.count("ZCARD") == 1 and "ZRANGE" not in names, names

    channel = await layer.new_channel()
    await layer.group_add("one-follows", channel)
    await layer.group_send("one-follows", {"type": "grove.event", "n": 2})
    assert (await asyncio.wait_for(layer.receive(channel), TIMEOUT))["n"] == 2


async def test_pushes_sent_outside_a_server_share_one_loop_and_its_connection(sockets, monkeypatch):
    """A Celery job has no server loop: each push made a loop and a Redis connection of its
    own. From the process's own loop (``events.send_from_own_loop``), three pushes open one
    connection at most, and each reaches the socket."""
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    answer = await send(socket, {"type": "subscribe", "user": protocol_user("ada")})
    assert answer["type"] == "subscribed"
    user = await sync_to_async(User.objects.get)(username="ada")
    monkeypatch.setattr(events, "_own_loop", events._LoopThread())
    prepared, go = threading.Event(), threading.Event()

    def job() -> None:  # as a worker runs it: a plain thread, no asgiref context
        listeners.nobody_listening()  # (its own connection, made before counting)
        prepared.set()
        go.wait(TIMEOUT)
        try:
            for n in range(3):
                events.publish(
                    "message_accepted",
                    {
                        "message_id": f"m-{n}",
                        "message_tree_id": f"t-{n}",
                        "frontend_message_id": f"fm-{n}",
                        "user_id": str(user.id),
                    },
                    api_client_id=user.api_client_id,
                    user_ids=[user.id],
                )
        finally:
            connections.close_all()

    thread = threading.Thread(target=job)
    thread.start()
    assert await asyncio.to_thread(prepared.wait, TIMEOUT)
    with commands_on(settings.CHANNEL_LAYER_URL) as sent:
        go.set()
        await asyncio.to_thread(thread.join, TIMEOUT)
    # The socket's consumer receives on a connection of its own (its BZPOPMIN names it).
    receivers = {command.connection for command in sent if command.name == "BZPOPMIN"}
    senders = {command.connection for command in sent} - receivers
    assert len(senders) <= 1, {c: [x.name for x in sent if x.connection == c] for c in senders}
    frames = [await receive_event(socket, "message_accepted") for _ in range(3)]
    assert [frame["message_id"] for frame in frames] == ["m-0", "m-1", "m-2"]
