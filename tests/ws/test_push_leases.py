"""Pushed tasks are leased: not acknowledged in time, or their socket gone for good, they go
back to the pool without counting as the user's skip; a resume gets them back instead."""

from __future__ import annotations

import asyncio
import io

from asgiref.sync import sync_to_async
from django.core.management import call_command

from backend.trees.models import Message, Task
from frontend_api.ws.dispatch import stop_dispatchers
from frontend_api.ws.tasks import TaskEventsConsumer
from tests.api.conftest import protocol_user
from tests.builders import make_tree, make_user
from tests.ws.conftest import QUIET, TIMEOUT, new_frontend, receive_event, send, ws_db
from tests.ws.test_push_dispatch import ready_socket

pytestmark = ws_db

ALICE, BOB = protocol_user("alice"), protocol_user("bob")


def one_reply_slot(frontend) -> Message:
    author = make_user(frontend.client_row, username="author")
    return make_tree(author=author, max_children_count=1, goal_tree_size=2)


def task_row(task_id: str) -> Task:
    return Task.objects.get(id=task_id)


async def eventually_returned(task_id: str, within: float = 8.0) -> Task:
    for _ in range(int(within / 0.2)):
        task = await sync_to_async(task_row)(task_id)
        if task.skipped:
            return task
        await asyncio.sleep(0.2)
    raise AssertionError(f"task {task_id} was not returned within {within} s")


async def test_a_task_not_acknowledged_in_time_goes_to_the_next_in_line(sockets, settings):
    settings.GROVE_PUSH_ACK_SECONDS = 1
    frontend = await new_frontend()
    prompt = await sync_to_async(one_reply_slot)(frontend)
    alice, _ = await ready_socket(sockets, frontend, ALICE, task_kind="assistant_reply")
    first = await receive_event(alice, "task_assigned")
    bob, _ = await ready_socket(sockets, frontend, BOB, task_kind="assistant_reply")
    assert await bob.receive_nothing(timeout=QUIET)  # the one slot is Alice's

    second = await receive_event(bob, "task_assigned")  # Alice never acknowledged
    assert second["task"]["conversation"] == first["task"]["conversation"]
    returned = await sync_to_async(task_row)(first["task"]["id"])
    assert returned.skipped and returned.skip_reason == "returned" and not returned.done
    emojis = (await sync_to_async(Message.objects.get)(id=prompt.id)).emojis
    assert "_skip_reply" not in emojis  # a return is not Alice's skip


async def test_an_acknowledged_task_stays_past_the_ack_deadline(sockets, settings):
    settings.GROVE_PUSH_ACK_SECONDS = 1
    frontend = await new_frontend()
    await sync_to_async(one_reply_slot)(frontend)
    socket, _ = await ready_socket(sockets, frontend, task_kind="assistant_reply")
    push = await receive_event(socket, "task_assigned")
    ack = await sync_to_async(frontend.post)(f"tasks/{push['task']['id']}/ack", {"message_id": "a"})
    assert ack.status_code == 204
    await asyncio.sleep(2.5)
    task = await sync_to_async(task_row)(push["task"]["id"])
    assert not task.skipped and task.ack


async def test_a_closed_socket_gives_its_tasks_back_after_the_resume_window(sockets, settings):
    settings.GROVE_PUSH_RESUME_SECONDS = 1
    frontend = await new_frontend()
    await sync_to_async(one_reply_slot)(frontend)
    socket, _ = await ready_socket(sockets, frontend, task_kind="assistant_reply")
    push = await receive_event(socket, "task_assigned")
    ack = await sync_to_async(frontend.post)(f"tasks/{push['task']['id']}/ack", {"message_id": "a"})
    assert ack.status_code == 204
    await socket.disconnect(timeout=TIMEOUT)
    task = await eventually_returned(push["task"]["id"])
    assert task.skip_reason == "returned"
    late = await sync_to_async(frontend.post)(
        "tasks/interaction",
        {
            "type": "text_reply_to_message",
            "message_id": "a",
            "user_message_id": "late",
            "text": "A late answer",
            "user": ALICE,
        },
    )
    assert late.status_code == 400 and late.json()["error_code"] == 2105


async def test_a_resume_gets_the_held_tasks_again_and_no_new_ones(sockets):
    frontend = await new_frontend()
    socket, answer = await ready_socket(sockets, frontend, task_kind="initial_prompt")
    push = await receive_event(socket, "task_assigned")
    await socket.disconnect(timeout=TIMEOUT)

    again = await sockets.connect("/ws/tasks/", key=frontend.key)
    resumed = await send(again, {"type": "resume", "resume_token": answer["resume_token"]})
    assert resumed == {
        "type": "resumed",
        "resume_token": answer["resume_token"],
        "task_ids": [push["task"]["id"]],
    }
    repeat = await receive_event(again, "task_assigned")
    assert repeat["resumed"] is True and repeat["task"] == push["task"]
    assert repeat["ack_by"] == push["ack_by"]  # the lease runs on, it does not restart
    ready = await send(again, {"type": "ready", "user": ALICE, "task_kind": "initial_prompt"})
    assert ready["resume_token"] == answer["resume_token"]
    assert await again.receive_nothing(timeout=QUIET)  # max_tasks 1, held: no new task
    assert not (await sync_to_async(task_row)(push["task"]["id"])).skipped


async def test_a_session_open_on_a_socket_cannot_be_resumed_elsewhere(sockets):
    frontend = await new_frontend()
    _socket, answer = await ready_socket(sockets, frontend, task_kind="initial_prompt")
    other = await sockets.connect("/ws/tasks/", key=frontend.key)
    error = await send(other, {"type": "resume", "resume_token": answer["resume_token"]})
    assert error["type"] == "error" and "another socket" in error["message"]


async def test_a_socket_that_does_not_read_its_pushes_is_closed_with_4008(
    sockets, settings, monkeypatch
):
    settings.GROVE_WS_SEND_TIMEOUT_SECONDS = 0.5
    original = TaskEventsConsumer.send_json

    async def stalled(self, content, close=False):
        if content.get("type") == "task_assigned":
            await asyncio.sleep(60)  # what a full send buffer does to uvicorn's send
        await original(self, content, close)

    monkeypatch.setattr(TaskEventsConsumer, "send_json", stalled)
    frontend = await new_frontend()
    socket, _ = await ready_socket(sockets, frontend, task_kind="initial_prompt")
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4008}


async def test_the_beat_job_returns_the_tasks_when_no_web_process_sweeps(sockets, settings):
    settings.GROVE_PUSH_RESUME_SECONDS = 0
    frontend = await new_frontend()
    socket, _ = await ready_socket(sockets, frontend, task_kind="initial_prompt")
    push = await receive_event(socket, "task_assigned")
    await socket.disconnect(timeout=TIMEOUT)
    await stop_dispatchers()  # no web process is left running push sockets
    await asyncio.sleep(0.1)
    assert not (await sync_to_async(task_row)(push["task"]["id"])).skipped
    output = io.StringIO()
    await sync_to_async(call_command)("return_push_leases", stdout=output)
    assert "ended 1 session(s), returning 1 task(s)" in output.getvalue()
    returned = await sync_to_async(task_row)(push["task"]["id"])
    assert returned.skipped and returned.skip_reason == "returned"


def test_an_ended_session_gives_back_the_places_its_unfinished_claims_reserved():
    """A web process killed between a claim's RESERVE and its RECORD/UNRESERVE left the place
    held, for the user's entry, the socket and the whole API client (whose cap then filled
    up for good); the kill -9 test saw the entry's count left behind in 2 runs of 4."""
    from backend.push import keys, leases
    from backend.push.signals import redis_client

    r = redis_client()
    session, client_id = "ended-session-0001", "client-with-a-leak"
    entry = keys.entry_id(session, "user-1")
    r.hset(keys.session(session), mapping={"client": client_id, "channel": "gone", "pid": 1})
    r.hset(
        keys.entry(entry),
        mapping={"session": session, "client": client_id, "capacity": 1, "langs": "en"},
    )
    r.sadd(keys.session(session, "entries"), entry)
    r.set(keys.session(session, "alive"), "gone")
    assert r.eval(
        keys.RESERVE, 3, keys.entry(entry), keys.HELD, keys.ready("en"), entry, 5, 5, "a-round"
    )
    assert int(r.get(keys.client(client_id, "held"))) == 1
    r.delete(keys.session(session, "alive"))  # the process died mid-claim
    r.zadd(keys.SESSION_DUE, {session: 0})

    report = leases.sweep()

    assert report.sessions_ended == 1
    assert r.hget(keys.HELD, entry) is None
    assert not r.exists(keys.client(client_id, "held"))
    assert not r.exists(keys.session(session, "held"))
