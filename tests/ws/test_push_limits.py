"""Push dispatch's limits: ready users per socket and client, tasks held per socket and client."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from tests.api.conftest import protocol_user
from tests.ws.conftest import QUIET, new_frontend, receive_event, send, ws_db
from tests.ws.test_push_dispatch import ready_socket

pytestmark = ws_db


async def test_a_client_past_its_ready_users_cap_is_refused_with_429(sockets, settings):
    settings.GROVE_PUSH_MAX_READY_USERS_PER_CLIENT = 2
    frontend = await new_frontend()
    await ready_socket(sockets, frontend, protocol_user("a"), task_kind="assistant_reply")
    socket, _ = await ready_socket(
        sockets, frontend, protocol_user("b"), task_kind="assistant_reply"
    )
    refused = await send(
        socket, {"type": "ready", "user": protocol_user("c"), "task_kind": "assistant_reply"}
    )
    assert refused["type"] == "error" and refused["error_code"] == 429
    assert "GROVE_PUSH_MAX_READY_USERS_PER_CLIENT" in refused["message"]
    # A user already ready may say so again (new languages, kind or max_tasks).
    again = await send(socket, {"type": "ready", "user": protocol_user("b"), "max_tasks": 2})
    assert again["type"] == "ready_ok" and again["max_tasks"] == 2


async def test_another_client_is_not_held_by_the_first_ones_cap(sockets, settings):
    settings.GROVE_PUSH_MAX_READY_USERS_PER_CLIENT = 1
    first, second = await new_frontend(), await new_frontend()
    await ready_socket(sockets, first, task_kind="assistant_reply")
    await ready_socket(sockets, second, task_kind="assistant_reply")


async def test_a_socket_holding_its_cap_of_tasks_gets_no_more_until_one_closes(sockets, settings):
    settings.GROVE_PUSH_MAX_TASKS_PER_SOCKET = 2
    frontend = await new_frontend()
    socket, _ = await ready_socket(sockets, frontend, task_kind="initial_prompt", max_tasks=3)
    held = [(await receive_event(socket, "task_assigned"))["task"]["id"] for _ in range(2)]
    assert await socket.receive_nothing(timeout=QUIET)
    nack = await sync_to_async(frontend.post)(f"tasks/{held[0]}/nack", {"reason": "not now"})
    assert nack.status_code == 204
    third = await receive_event(socket, "task_assigned")
    assert third["task"]["id"] not in held


async def test_a_client_holding_its_cap_of_tasks_gets_no_more_on_any_socket(sockets, settings):
    settings.GROVE_PUSH_MAX_TASKS_PER_CLIENT = 1
    frontend = await new_frontend()
    first, _ = await ready_socket(sockets, frontend, protocol_user("a"), task_kind="initial_prompt")
    await receive_event(first, "task_assigned")
    second, _ = await ready_socket(
        sockets, frontend, protocol_user("b"), task_kind="initial_prompt"
    )
    assert await second.receive_nothing(timeout=QUIET)
