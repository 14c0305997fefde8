"""Open sockets are gauged and the frames Grove pushes are counted (grove_ws_*)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from tests.api.conftest import protocol_user
from tests.ws.conftest import TIMEOUT, new_frontend, receive_event, send, ws_db

pytestmark = ws_db

ALICE = protocol_user("alice")
ROUTE = {"route": "/ws/tasks/"}


def sample(name: str, labels: dict) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_open_socket_is_gauged_until_it_closes(sockets):
    frontend = await new_frontend()
    before = sample("grove_ws_connections", ROUTE)
    opened_before = sample("grove_ws_connections_opened_total", ROUTE)
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert (await send(socket, {"type": "ping"}))["type"] == "pong"
    assert sample("grove_ws_connections", ROUTE) == before + 1
    await socket.disconnect(timeout=TIMEOUT)
    sockets.open.remove(socket)
    assert sample("grove_ws_connections", ROUTE) == before
    assert sample("grove_ws_connections_opened_total", ROUTE) == opened_before + 1


async def test_a_refused_socket_is_not_counted(sockets):
    before = sample("grove_ws_connections_opened_total", ROUTE)
    socket = await sockets.connect("/ws/tasks/", key="not-a-grove-key")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "error"
    assert sample("grove_ws_connections_opened_total", ROUTE) == before


async def test_each_pushed_event_is_counted_by_type(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    await send(socket, {"type": "subscribe", "user": ALICE})
    before = sample("grove_ws_pushes_total", {"event": "task_assigned"})
    response = await sync_to_async(frontend.post)(
        "tasks/", {"type": "initial_prompt", "user": ALICE}
    )
    assert response.status_code == 200
    await receive_event(socket, "task_assigned")
    assert sample("grove_ws_pushes_total", {"event": "task_assigned"}) == before + 1
