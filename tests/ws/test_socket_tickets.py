"""Browsers open sockets with a single-use ticket from POST /api/v1/ws_tickets/, never a key
in the URL."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from tests.ws.conftest import TIMEOUT, new_frontend, send, ws_db

pytestmark = ws_db


async def ticket_of(frontend) -> dict:
    response = await sync_to_async(frontend.post)("ws_tickets/")
    assert response.status_code == 201, response.json()
    return response.json()


async def assert_refused(socket, code: int) -> dict:
    error = await socket.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["error_code"] == 2
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": code}
    return error


async def test_a_ticket_opens_a_socket_as_its_client(sockets):
    frontend = await new_frontend()
    issued = await ticket_of(frontend)
    assert issued["expires_in"] == 60 and len(issued["ticket"]) >= 32
    socket = await sockets.connect(f"/ws/tasks/?ticket={issued['ticket']}")
    assert await send(socket, {"type": "ping"}) == {"type": "pong"}
    user = {"id": "ada", "display_name": "Ada", "auth_method": "local"}
    assert await send(socket, {"type": "subscribe", "user": user}) == {
        "type": "subscribed",
        "user": user,
    }


async def test_a_ticket_opens_one_socket_only(sockets):
    frontend = await new_frontend()
    ticket = (await ticket_of(frontend))["ticket"]
    first = await sockets.connect(f"/ws/tasks/?ticket={ticket}")
    assert await send(first, {"type": "ping"}) == {"type": "pong"}
    second = await sockets.connect(f"/ws/tasks/?ticket={ticket}")
    await assert_refused(second, 4401)


async def test_an_expired_ticket_is_refused(sockets):
    frontend = await new_frontend()
    ticket = (await ticket_of(frontend))["ticket"]
    await sync_to_async(cache.clear)()  # what the cache does when the 60 s are over
    socket = await sockets.connect(f"/ws/tasks/?ticket={ticket}")
    await assert_refused(socket, 4401)


@pytest.mark.parametrize("ticket", ["", "made-up", "x" * 300])
async def test_an_unknown_ticket_is_refused(sockets, ticket):
    socket = await sockets.connect(f"/ws/tasks/?ticket={ticket}")
    await assert_refused(socket, 4401)


async def test_a_ticket_of_a_client_disabled_since_is_refused(sockets):
    frontend = await new_frontend()
    ticket = (await ticket_of(frontend))["ticket"]
    frontend.client_row.enabled = False
    await sync_to_async(frontend.client_row.save)()
    socket = await sockets.connect(f"/ws/tasks/?ticket={ticket}")
    await assert_refused(socket, 4401)


async def test_an_api_key_in_the_url_is_refused_and_says_to_use_a_ticket(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect(f"/ws/tasks/?api_key={frontend.key}")
    error = await assert_refused(socket, 4401)
    assert "ws_tickets" in error["message"] and "X-API-Key" in error["message"]


async def test_a_ticket_is_stored_only_as_a_digest(sockets):
    frontend = await new_frontend()
    ticket = (await ticket_of(frontend))["ticket"]
    assert await sync_to_async(cache.get)(f"ws_ticket:{ticket}") is None


async def test_a_refused_socket_that_goes_at_once_is_finished(sockets):
    """The client leaves as soon as it reads the refusal: its consumer ends once the blocking
    pop it waits in returns (``brpop_timeout``). redis-py swallowed the cancellation of the
    consumer's channel-layer receive, which then polled Redis for ever
    (``backend.channels_redis_layer``). The loss depends on timing: three sockets in a row."""
    import asyncio
    import time

    from channels.layers import get_channel_layer

    frontend = await new_frontend()
    limit = getattr(get_channel_layer(), "brpop_timeout", 0) + 3
    for _ in range(3):
        socket = await sockets.connect(f"/ws/tasks/?api_key={frontend.key}")
        await assert_refused(socket, 4401)
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        started = time.monotonic()
        while not socket.future.done() and time.monotonic() - started < limit:
            await asyncio.sleep(0.05)
        assert socket.future.done(), f"the refused socket's consumer still runs after {limit} s"
        sockets.open.remove(socket)
