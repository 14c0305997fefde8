"""ws/tasks/: authentication, subscriptions, and the events Grove pushes to a frontend."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from backend.accounts.models import User
from tests.api.conftest import protocol_user
from tests.builders import make_tree, make_user
from tests.ws.conftest import (
    QUIET,
    TIMEOUT,
    new_frontend,
    receive_event,
    received_types,
    send,
    ws_db,
)

pytestmark = ws_db

ALICE = protocol_user("alice")


def request_task(frontend, kind="initial_prompt", user=ALICE, lang="en") -> dict:
    response = frontend.post("tasks/", {"type": kind, "user": user, "lang": lang})
    assert response.status_code == 200, response.json()
    return response.json()


async def subscribed_socket(sockets, frontend, user=ALICE):
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert await send(socket, {"type": "subscribe", "user": user}) == {
        "type": "subscribed",
        "user": user,
    }
    return socket


@pytest.mark.parametrize("key", [None, "not-a-grove-key"])
async def test_socket_without_valid_key_gets_error_then_close_4401(sockets, key):
    socket = await sockets.connect("/ws/tasks/", key=key)
    error = await socket.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["error_code"] == 2
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}


async def test_disabled_client_is_refused(sockets):
    frontend = await new_frontend()
    frontend.client_row.enabled = False
    await sync_to_async(frontend.client_row.save)()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert (await socket.receive_json_from(timeout=TIMEOUT))["error_code"] == 2
    assert (await socket.receive_output(timeout=TIMEOUT))["code"] == 4401


async def test_subscribed_user_receives_the_task_json_rest_returned(sockets):
    frontend = await new_frontend()
    socket = await subscribed_socket(sockets, frontend)

    def grown_tree_and_reply_task():
        author = make_user(frontend.client_row, username="prompt-author")
        make_tree(author=author)
        return request_task(frontend, kind="assistant_reply")

    task = await sync_to_async(grown_tree_and_reply_task)()
    pushed = await receive_event(socket, "task_assigned")
    assert pushed == {"type": "task_assigned", "task": task, "user": ALICE}
    assert task["type"] == "assistant_reply" and task["conversation"]["messages"]


async def test_users_are_created_within_the_calling_client(sockets):
    frontend = await new_frontend()
    await subscribed_socket(sockets, frontend)
    owners = await sync_to_async(list)(
        User.objects.filter(username="alice").values_list("api_client_id", flat=True)
    )
    assert owners == [frontend.client_row.id]


async def test_another_client_never_receives_events_of_its_namesake_user(sockets):
    first, second = await new_frontend(), await new_frontend()
    first_socket = await subscribed_socket(sockets, first)
    second_socket = await subscribed_socket(sockets, second)  # also "alice", another client

    task = await sync_to_async(request_task)(first)
    assert (await receive_event(first_socket, "task_assigned"))["task"] == task
    assert await second_socket.receive_nothing(timeout=QUIET)


async def test_unsubscribed_user_gets_no_more_tasks(sockets):
    frontend = await new_frontend()
    socket = await subscribed_socket(sockets, frontend)
    assert (await send(socket, {"type": "unsubscribe", "user": ALICE}))["type"] == "unsubscribed"
    await sync_to_async(request_task)(frontend)
    assert await socket.receive_nothing(timeout=QUIET)


async def test_subscribe_with_invalid_user_is_an_error_frame(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    error = await send(socket, {"type": "subscribe", "user": {"id": "x"}})
    assert error["type"] == "error" and error["error_code"] == 0
    assert "auth_method" in error["errors"]


async def test_disabled_user_cannot_be_subscribed(sockets):
    frontend = await new_frontend()
    await sync_to_async(
        lambda: User.objects.create(
            api_client=frontend.client_row,
            auth_method="local",
            username="alice",
            display_name="Alice",
            enabled=False,
        )
    )()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    error = await send(socket, {"type": "subscribe", "user": ALICE})
    assert error["type"] == "error" and error["error_code"] == 4001


async def test_unknown_command_and_non_object_frames_are_errors(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert (await send(socket, {"type": "dance"}))["type"] == "error"
    await socket.send_to(text_data="[1, 2]")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "error"
    assert await send(socket, {"type": "ping"}) == {"type": "pong"}


async def test_language_subscriber_hears_tree_state_changes_of_that_language(sockets):
    from backend.trees.services.trees import halt_tree

    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert await send(socket, {"type": "subscribe_lang", "lang": "en"}) == {
        "type": "subscribed_lang",
        "lang": "en",
    }

    def halt_trees():
        author = make_user(frontend.client_row)
        german, english = make_tree(author=author, lang="de"), make_tree(author=author)
        halt_tree(tree_id=german.message_tree_id, actor="test")
        halt_tree(tree_id=english.message_tree_id, actor="test")
        return english.message_tree_id

    tree_id = await sync_to_async(halt_trees)()
    frame = await socket.receive_json_from(timeout=TIMEOUT)
    assert frame == {
        "type": "tree_state_changed",
        "message_tree_id": str(tree_id),
        "from": "growing",
        "to": "halted_by_moderator",
        "reason": "moderator",
    }
    assert await socket.receive_nothing(timeout=QUIET)


async def test_bad_language_code_is_refused(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    assert (await send(socket, {"type": "subscribe_lang", "lang": "en us!"}))["type"] == "error"


async def test_expired_task_is_announced_to_its_user(sockets):
    maintenance = pytest.importorskip("backend.trees.services.maintenance")
    from datetime import timedelta

    from django.utils import timezone

    frontend = await new_frontend()
    socket = await subscribed_socket(sockets, frontend)
    task = await sync_to_async(request_task)(frontend)
    await receive_event(socket, "task_assigned")
    later = timezone.now() + timedelta(days=2)
    assert await sync_to_async(maintenance.expire_tasks)(now=later) == 1
    frame = await receive_event(socket, "task_expired")
    assert frame["task_id"] == task["id"] and frame["user"] == ALICE


async def test_socket_receives_nothing_it_did_not_subscribe_to(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    await sync_to_async(request_task)(frontend)
    assert await received_types(socket) == []
