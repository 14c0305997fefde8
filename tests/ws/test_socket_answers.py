"""Answers on ``ws/tasks/`` (frontend_api/ws/answers.py): ack, nack and interactions as frames,
through real websockets to uvicorn on the Redis channel layer; refusals as REST's codes."""

from __future__ import annotations

import asyncio
import time
import uuid

from asgiref.sync import sync_to_async

from backend.trees.models import Message, Task
from tests.api.conftest import protocol_user
from tests.live import serve_grove
from tests.ws.conftest import new_frontend, ws_db
from tests.ws.live_socket import LiveSocket

pytestmark = ws_db

ADA = protocol_user("ada")


async def ready(socket: LiveSocket, user: dict = ADA, **command) -> dict:
    """``ready`` for ``user``; the task pushed to them."""
    answer = await socket.command(
        {"type": "ready", "user": user, "task_kind": "initial_prompt", **command}, "ready_ok"
    )
    assert answer["type"] == "ready_ok", answer
    return (await socket.receive_type("task_assigned"))["task"]


def prompt_body(message_id: str, text: str, user: dict = ADA, **extra) -> dict:
    return {
        "type": "text_reply_to_message",
        "message_id": message_id,
        "user_message_id": f"{message_id}-text",
        "text": text,
        "user": user,
        **extra,
    }


def task_row(task_id: str) -> Task:
    return Task.objects.get(id=task_id)


async def test_a_pushed_task_is_acked_and_answered_on_the_socket_and_the_next_follows(sockets):
    frontend = await new_frontend()
    with serve_grove() as port:
        socket = await LiveSocket.open(port, frontend.key)
        task = await ready(socket)
        acked = await socket.command(
            {
                "type": "task_ack",
                "request_id": "ack-1",
                "task_id": task["id"],
                "message_id": "fe-1",
                "user": ADA,
            },
            "task_acked",
        )
        assert acked == {"type": "task_acked", "request_id": "ack-1", "task_id": task["id"]}
        done = await socket.command(
            {**prompt_body("fe-1", "Why is the sky blue?"), "request_id": 7}, "task_done"
        )
        assert done == {"type": "task_done", "request_id": 7, "id": task["id"]}
        # No request: the next task is pushed once the answer freed the user's place.
        following = (await socket.receive_type("task_assigned"))["task"]
        skipped = await socket.command(
            {"type": "task_nack", "request_id": "n", "task_id": following["id"], "reason": "x"},
            "task_nacked",
        )
        assert skipped["type"] == "task_nacked" and skipped["request_id"] == "n"
        third = (await socket.receive_type("task_assigned"))["task"]
        await socket.close()
    assert len({task["id"], following["id"], third["id"]}) == 3
    row = await sync_to_async(task_row)(task["id"])
    assert row.done and row.frontend_message_id == "fe-1"
    message = await sync_to_async(Message.objects.get)(frontend_message_id="fe-1-text")
    assert message.text == "Why is the sky blue?" and message.user_id == row.user_id
    nacked = await sync_to_async(task_row)(following["id"])
    assert nacked.skipped and nacked.skip_reason == "x"


def rest_error(response) -> dict:
    body = response.json()
    return {
        "message": body["message"],
        "error_code": body["error_code"],
        "status": response.status_code,
    }


def frame_error(frame: dict) -> dict:
    assert frame["type"] == "error", frame
    return {key: frame[key] for key in ("message", "error_code", "status")}


async def test_socket_refusals_carry_rests_codes_and_messages_and_change_nothing(sockets):
    frontend = await new_frontend()
    post = sync_to_async(frontend.post)
    nobody = str(uuid.uuid4())
    with serve_grove() as port:
        socket = await LiveSocket.open(port, frontend.key)
        task = await ready(socket)
        await socket.command(
            {"type": "task_ack", "task_id": task["id"], "message_id": "fe-1"}, "task_acked"
        )
        cases = [
            # (socket frame, the REST call with the same body)
            (
                {"type": "task_ack", "task_id": nobody, "message_id": "m"},
                lambda: post(f"tasks/{nobody}/ack", {"message_id": "m"}),
            ),
            (
                {"type": "task_ack", "task_id": task["id"], "message_id": "fe-2"},
                lambda: post(f"tasks/{task['id']}/ack", {"message_id": "fe-2"}),
            ),
            (
                {"type": "task_ack", "task_id": task["id"]},
                lambda: post(f"tasks/{task['id']}/ack", {}),
            ),
            (
                {"type": "task_nack", "task_id": task["id"], "user": protocol_user("ghost")},
                lambda: post(f"tasks/{task['id']}/nack", {}, user="local:ghost"),
            ),
            (
                prompt_body("fe-1", "   "),
                lambda: post("tasks/interaction", prompt_body("fe-1", "   ")),
            ),
            (
                prompt_body("nowhere", "Hello"),
                lambda: post("tasks/interaction", prompt_body("nowhere", "Hello")),
            ),
            (
                {"type": "message_rating", "message_id": "fe-1", "rating": 3, "user": ADA},
                lambda: post(
                    "tasks/interaction",
                    {"type": "message_rating", "message_id": "fe-1", "rating": 3, "user": ADA},
                ),
            ),
            (
                prompt_body("fe-1", "Hello", user=protocol_user("eve")),
                lambda: post(
                    "tasks/interaction", prompt_body("fe-1", "Hello", user=protocol_user("eve"))
                ),
            ),
        ]
        for number, (frame, rest_call) in enumerate(cases):
            answer = await socket.command({**frame, "request_id": number}, "never")
            assert answer["request_id"] == number
            assert frame_error(answer) == rest_error(await rest_call()), frame
        codes = [
            frame_error(await socket.command(frame, "never"))["error_code"] for frame, _ in cases
        ]
        # Still the user's open task: every refusal left it as it was.
        done = await socket.command(prompt_body("fe-1", "Why do cats purr?"), "task_done")
        await socket.close()
    assert codes == [2100, 2103, 0, 4002, 1010, 2100, 1003, 2106]
    assert done["id"] == task["id"]
    assert not await sync_to_async(Message.objects.filter(user__username="eve").exists)()


async def test_bad_frames_get_a_clear_error_and_lose_nothing(sockets):
    frontend = await new_frontend()
    with serve_grove() as port:
        socket = await LiveSocket.open(port, frontend.key)
        task = await ready(socket)
        errors = [
            await socket.command("not json", "never"),
            await socket.command("[1, 2]", "never"),
            await socket.command({"type": "task_ack", "request_id": ["x"]}, "never"),
            await socket.command(
                {"type": "task_ack", "request_id": "b", "task_id": "not-a-uuid", "message_id": "m"},
                "never",
            ),
            await socket.command({"type": "interaction", "request_id": "c"}, "never"),
        ]
        acked = await socket.command(
            {"type": "task_ack", "task_id": task["id"], "message_id": "fe-1"}, "task_acked"
        )
        await socket.close()
    assert [e["type"] for e in errors] == ["error"] * 5
    assert errors[0]["message"] == errors[1]["message"] == "send one JSON object per frame"
    assert "request_id" in errors[2]["message"] and "request_id" not in errors[2]
    assert errors[3]["request_id"] == "b" and errors[3]["status"] == 422
    assert "task_id" in errors[3]["errors"]
    assert errors[4]["request_id"] == "c" and "unknown message type" in errors[4]["message"]
    assert acked["type"] == "task_acked"


async def test_socket_answers_spend_the_users_rest_throttle_budget(sockets):
    frontend = await new_frontend()
    with serve_grove(GROVE_THROTTLE_USER="2/minute") as port:
        # The three answers in one minute window: start at least 20 s before it ends.
        if time.time() % 60 > 40:
            await asyncio.sleep(60 - time.time() % 60)
        socket = await LiveSocket.open(port, frontend.key)
        task = await ready(socket)
        answers = [
            await socket.command(
                {"type": "task_ack", "task_id": task["id"], "message_id": "fe-1", "user": ADA},
                "task_acked",
            ),
            await socket.command(prompt_body("fe-1", "First try"), "task_done"),
            await socket.command(prompt_body("fe-1", "Second try"), "task_done"),
        ]
        await socket.close()
    # The ack and the first answer spend the budget; the third call is refused before the
    # service sees it (else: 2105, the task is done).
    assert [a["type"] for a in answers] == ["task_acked", "task_done", "error"]
    assert answers[2]["error_code"] == 429 and answers[2]["retry_after"] >= 1


async def test_a_socket_is_answered_while_another_sockets_database_call_waits(sockets):
    """One socket's handshake waits on PostgreSQL (its API client's table is locked); another
    socket of the same process acks its task meanwhile. Channels sent every message of every
    socket through its one database thread first (``aclose_old_connections``): the ack waited
    for the handshake."""
    import asyncio

    import psycopg

    from tests.live import test_database_url

    busy, other = await new_frontend(), await new_frontend()
    with serve_grove() as port:
        socket = await LiveSocket.open(port, other.key)
        task = await ready(socket)
        url = test_database_url().replace("postgres://", "postgresql://")
        locker = await psycopg.AsyncConnection.connect(url)
        try:
            await locker.execute("LOCK TABLE accounts_apiclient IN ACCESS EXCLUSIVE MODE")
            opening = asyncio.ensure_future(LiveSocket.open(port, busy.key))
            await asyncio.sleep(0.5)
            assert not opening.done()  # its handshake waits for the lock
            ack = {"type": "task_ack", "task_id": task["id"], "message_id": "fe-1", "user": ADA}
            await socket.send(ack)
            acked = await asyncio.wait_for(socket.receive_type("task_acked", "error"), 3)
            assert acked == {"type": "task_acked", "task_id": task["id"]}
        finally:
            await locker.rollback()
            await locker.close()
        waiting = await asyncio.wait_for(opening, 10)
        await waiting.close()
        await socket.close()
    row = await sync_to_async(task_row)(task["id"])
    assert row.ack is True and row.frontend_message_id == "fe-1"
