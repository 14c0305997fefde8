"""ws/admin/: trusted clients only; engine events such as tree state changes."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from backend.trees.services.trees import halt_tree, resume_tree
from tests.builders import make_tree, make_user
from tests.ws.conftest import QUIET, TIMEOUT, new_frontend, received_types, send, ws_db

pytestmark = ws_db


async def test_untrusted_client_is_refused_with_4403(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/admin/", key=frontend.key)
    error = await socket.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["error_code"] == 2
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4403}


async def test_admin_socket_without_key_is_refused_with_4401(sockets):
    socket = await sockets.connect("/ws/admin/")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "error"
    assert (await socket.receive_output(timeout=TIMEOUT))["code"] == 4401


async def test_admin_socket_hears_tree_transitions(sockets):
    admin = await new_frontend(trusted=True)
    socket = await sockets.connect("/ws/admin/", key=admin.key)
    assert await send(socket, {"type": "ping"}) == {"type": "pong"}

    def halt_and_resume():
        prompt = make_tree(author=make_user(admin.client_row))
        halt_tree(tree_id=prompt.message_tree_id, actor="moderator-1")
        resume_tree(tree_id=prompt.message_tree_id, actor="moderator-1")
        return str(prompt.message_tree_id)

    tree_id = await sync_to_async(halt_and_resume)()
    halted = await socket.receive_json_from(timeout=TIMEOUT)
    resumed = await socket.receive_json_from(timeout=TIMEOUT)
    assert halted == {
        "type": "tree_state_changed",
        "message_tree_id": tree_id,
        "from": "growing",
        "to": "halted_by_moderator",
        "reason": "moderator",
    }
    assert (resumed["type"], resumed["from"], resumed["reason"]) == (
        "tree_state_changed",
        "halted_by_moderator",
        "resumed",
    )
    assert await socket.receive_nothing(timeout=QUIET)


async def test_admin_socket_does_not_get_task_hand_outs(sockets):
    admin = await new_frontend(trusted=True)
    socket = await sockets.connect("/ws/admin/", key=admin.key)
    body = {
        "type": "initial_prompt",
        "user": {"id": "u", "display_name": "U", "auth_method": "local"},
    }
    response = await sync_to_async(admin.post)("tasks/", body)
    assert response.status_code == 200
    assert await received_types(socket) == []
