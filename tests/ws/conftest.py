"""Websocket tests: real ASGI app, real channels-redis layer, committed rows (transaction=True).

Sync work (REST calls, services) runs through ``sync_to_async``; the pushes it commits come
back over the test's event loop. Every receive is bounded by ``TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from django.db import connections

from backend.asgi import application
from frontend_api.ws.dispatch import stop_dispatchers
from tests.api.conftest import Frontend
from tests.ws.communicator import WebsocketCommunicator

TIMEOUT = 5
QUIET = 1  # how long "nothing arrives" is watched for

ws_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Sockets:
    """Opens websockets against the ASGI app and closes them all when the test ends."""

    def __init__(self):
        self.open: list[WebsocketCommunicator] = []

    async def connect(
        self, path: str, *, key: str | None = None, headers: list | None = None
    ) -> WebsocketCommunicator:
        headers = [*(headers or []), *([(b"x-api-key", key.encode())] if key else [])]
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        self.open.append(socket)
        return socket

    async def close_all(self) -> None:
        # All at once: a consumer ends only once its channel-layer pop returns (up to
        # channels_redis's 5 s, ``backend.channels_redis_layer``); one after another, a test
        # with a dozen sockets spent 40 s closing them.
        # Each socket is closed whatever another's close raised: a test that failed on a
        # timeout leaves a communicator whose application was cancelled (its disconnect
        # raises CancelledError), and the sockets after it stayed open.
        closed = await asyncio.gather(
            *(socket.disconnect(timeout=TIMEOUT) for socket in self.open), return_exceptions=True
        )
        failures = [r for r in closed if isinstance(r, Exception)]
        if failures:
            raise failures[0]


def _forget_push_state() -> None:
    """Push dispatch's keys in this Redis database start empty: a server an earlier test
    killed with -9 may have left a language's round lock (held ``ROUND_LOCK_MS``, 15 s), and a
    test that waits 10 s for its first push then waited on that lock instead."""
    import redis
    from django.conf import settings

    from backend.push.keys import PREFIX

    if not settings.GROVE_PUSH_REDIS_URL:  # the in-memory layer: nothing kept in Redis
        return
    client = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    try:
        stale = list(client.scan_iter(match=f"{PREFIX}*", count=1000))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


def _fresh_channel_layer() -> None:
    """Forget the process's channel layer: the next use builds a new one. channels_redis keeps
    its receive state (a lock bound to the event loop that made it, a count of receivers) on
    the layer; a consumer still receiving when an earlier test's loop ended (a disconnect that
    timed out on a loaded machine) left it locked on a dead loop, and every later websocket
    test failed with "Lock ... is bound to a different event loop"."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture
async def sockets():
    _fresh_channel_layer()
    await get_channel_layer().flush()
    await sync_to_async(_forget_push_state)()
    opened = Sockets()
    yield opened
    # The dispatcher is stopped and the connections closed even when closing a socket fails:
    # a dispatcher left running after one failed test (its claims still writing after the
    # test database's flush) failed every websocket test after it (59 failures in one CI run).
    try:
        await opened.close_all()
    finally:
        try:
            await stop_dispatchers()
        finally:
            _fresh_channel_layer()
            # The sync_to_async thread keeps its own connection; close it so the test
            # database can be flushed and dropped.
            await sync_to_async(connections.close_all)()


ASYNCAPI_CHECK = "test_every_frame_sent_in_the_websocket_tests_matches_the_asyncapi_document"


def pytest_collection_modifyitems(session, config, items):
    """The AsyncAPI check runs last, after every websocket test has recorded its frames."""
    last = [item for item in items if item.name == ASYNCAPI_CHECK]
    items[:] = [item for item in items if item.name != ASYNCAPI_CHECK] + last


async def new_frontend(*, trusted: bool = False) -> Frontend:
    return await sync_to_async(Frontend)(trusted=trusted)


async def send(socket: WebsocketCommunicator, frame: dict) -> dict:
    """Send a command and return the socket's answer to it."""
    await socket.send_json_to(frame)
    return await socket.receive_json_from(timeout=TIMEOUT)


async def receive_event(socket: WebsocketCommunicator, event_type: str) -> dict:
    """The next frame of ``event_type``, skipping other events (bounded by TIMEOUT each)."""
    for _ in range(50):
        frame = await socket.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == event_type:
            return frame
    raise AssertionError(f"no {event_type} among 50 frames")


async def received_types(socket: WebsocketCommunicator) -> list[str]:
    """The types of every frame that arrives until the socket stays quiet for QUIET seconds."""
    types = []
    while not await socket.receive_nothing(timeout=QUIET):
        types.append((await socket.receive_json_from(timeout=TIMEOUT))["type"])
    return types
