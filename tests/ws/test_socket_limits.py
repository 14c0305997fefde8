"""Browser origins and frame sizes on the API-key sockets (reliability finding 10)."""

from __future__ import annotations

import pytest

from tests.ws.conftest import TIMEOUT, new_frontend, send, ws_db

pytestmark = ws_db

HOST = [(b"host", b"grove.example.org")]


def origin(value: str) -> list:
    return [*HOST, (b"origin", value.encode())]


async def test_a_foreign_origin_gets_an_error_then_close_4403(sockets, settings):
    settings.GROVE_WS_ALLOWED_ORIGINS = ["frontend.example.org"]
    frontend = await new_frontend()
    socket = await sockets.connect(
        "/ws/tasks/", key=frontend.key, headers=origin("https://evil.example.net")
    )
    error = await socket.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["error_code"] == 2
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4403}


@pytest.mark.parametrize(
    "allowed_origin",
    ["https://grove.example.org", "https://frontend.example.org:8443", None],
    ids=["own host", "allowed host", "no origin (a bot)"],
)
async def test_own_host_allowed_hosts_and_bots_may_open_a_socket(sockets, settings, allowed_origin):
    settings.GROVE_WS_ALLOWED_ORIGINS = ["frontend.example.org"]
    frontend = await new_frontend()
    headers = origin(allowed_origin) if allowed_origin else HOST
    socket = await sockets.connect("/ws/tasks/", key=frontend.key, headers=headers)
    assert await send(socket, {"type": "ping"}) == {"type": "pong"}


async def test_a_frame_over_the_limit_gets_an_error_then_close_1009(sockets, settings):
    settings.GROVE_WS_MAX_FRAME_BYTES = 1000
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    await socket.send_json_to({"type": "ping", "padding": "x" * 1000})
    error = await socket.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["error_code"] == 0
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 1009}


async def test_a_frame_within_the_limit_is_served(sockets, settings):
    settings.GROVE_WS_MAX_FRAME_BYTES = 1000
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert await send(socket, {"type": "ping", "padding": "x" * 900}) == {"type": "pong"}
