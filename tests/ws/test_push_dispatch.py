"""ws/tasks/ push dispatch: ready users get tasks without asking, over the Redis layer."""

from __future__ import annotations

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from backend.accounts.models import User
from backend.push import keys
from backend.trees.models import Task
from frontend_api.v1.protocol import render_task
from frontend_api.ws import dispatch
from frontend_api.ws.dispatch import PARALLEL_CLAIMS, claim_for_push
from tests.api.conftest import protocol_user
from tests.builders import make_tree, make_user
from tests.ws.conftest import QUIET, TIMEOUT, new_frontend, receive_event, send, ws_db

pytestmark = ws_db

ALICE, BOB = protocol_user("alice"), protocol_user("bob")


async def ready_socket(sockets, frontend, user=ALICE, **command):
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    answer = await send(socket, {"type": "ready", "user": user, **command})
    assert answer["type"] == "ready_ok", answer
    return socket, answer


def grow_tree(frontend, lang="en"):
    author = make_user(frontend.client_row, username=f"author-{lang}")
    return make_tree(author=author, lang=lang)


def rest_render(task_id: str) -> dict:
    task = Task.objects.select_related("user").get(id=task_id)
    return render_task(task, viewer=task.user)


async def test_a_ready_user_gets_a_task_at_once_in_the_json_rest_renders(sockets):
    frontend = await new_frontend()
    await sync_to_async(grow_tree)(frontend)
    socket, answer = await ready_socket(sockets, frontend, task_kind="assistant_reply")
    assert answer["langs"] == ["en"] and answer["max_tasks"] == 1 and answer["resume_token"]
    push = await receive_event(socket, "task_assigned")
    assert push["pushed"] is True and push["user"] == ALICE and push["ack_by"]
    assert push["task"]["type"] == "assistant_reply"
    assert push["task"] == await sync_to_async(rest_render)(push["task"]["id"])


async def test_a_ready_user_gets_work_the_moment_it_appears(sockets):
    frontend = await new_frontend()
    socket, _ = await ready_socket(sockets, frontend, task_kind="assistant_reply")
    assert await socket.receive_nothing(timeout=QUIET)  # no tree yet: nothing to reply to
    await sync_to_async(grow_tree)(frontend)
    push = await receive_event(socket, "task_assigned")
    assert push["task"]["type"] == "assistant_reply"


async def test_a_user_holds_max_tasks_and_gets_the_next_after_answering(sockets):
    frontend = await new_frontend()
    socket, _ = await ready_socket(sockets, frontend, task_kind="initial_prompt")
    first = await receive_event(socket, "task_assigned")
    assert await socket.receive_nothing(timeout=QUIET)  # max_tasks 1: no second push yet
    ack = await sync_to_async(frontend.post)(
        f"tasks/{first['task']['id']}/ack", {"message_id": "m-1"}
    )
    assert ack.status_code == 204
    done = await sync_to_async(frontend.post)(
        "tasks/interaction",
        {
            "type": "text_reply_to_message",
            "message_id": "m-1",
            "user_message_id": "um-1",
            "text": "How do tides work?",
            "user": ALICE,
        },
    )
    assert done.status_code == 200, done.json()
    second = await receive_event(socket, "task_assigned")
    assert second["task"]["id"] != first["task"]["id"]


async def test_max_tasks_pushes_that_many_at_once(sockets):
    frontend = await new_frontend()
    socket, _ = await ready_socket(sockets, frontend, task_kind="initial_prompt", max_tasks=3)
    ids = {(await receive_event(socket, "task_assigned"))["task"]["id"] for _ in range(3)}
    assert len(ids) == 3
    assert await socket.receive_nothing(timeout=QUIET)


async def test_waiting_users_are_served_in_arrival_order_within_a_language(sockets):
    frontend = await new_frontend()
    first, _ = await ready_socket(sockets, frontend, ALICE, task_kind="assistant_reply")
    second, _ = await ready_socket(sockets, frontend, BOB, task_kind="assistant_reply")
    assert await first.receive_nothing(timeout=QUIET)  # the readies' own rounds are over

    def one_reply_slot():
        author = make_user(frontend.client_row, username="author")
        make_tree(author=author, max_children_count=1, goal_tree_size=2)

    await sync_to_async(one_reply_slot)()
    assert (await receive_event(first, "task_assigned"))["user"] == ALICE
    assert await second.receive_nothing(timeout=QUIET)


async def test_a_round_claiming_in_parallel_serves_exactly_the_first_in_line(sockets):
    frontend = await new_frontend()
    users = [protocol_user(f"waiting-{i}") for i in range(PARALLEL_CLAIMS + 4)]
    slots = PARALLEL_CLAIMS + 2  # more than one batch, fewer than the line
    waiting = [
        (await ready_socket(sockets, frontend, user, task_kind="assistant_reply"))[0]
        for user in users
    ]
    assert await waiting[0].receive_nothing(timeout=QUIET)

    @transaction.atomic
    def reply_slots():
        author = make_user(frontend.client_row, username="author")
        for _ in range(slots):
            make_tree(author=author, max_children_count=1, goal_tree_size=2)

    await sync_to_async(reply_slots)()
    pushes = [await receive_event(socket, "task_assigned") for socket in waiting[:slots]]
    assert [push["user"] for push in pushes] == users[:slots]
    assert len({push["task"]["id"] for push in pushes}) == slots  # none twice
    for socket in waiting[slots:]:
        assert await socket.receive_nothing(timeout=QUIET)


async def test_unready_user_gets_nothing_more(sockets):
    frontend = await new_frontend()
    socket, _ = await ready_socket(sockets, frontend, task_kind="assistant_reply")
    assert await send(socket, {"type": "unready", "user": ALICE}) == {
        "type": "unready_ok",
        "user": ALICE,
    }
    await sync_to_async(grow_tree)(frontend)
    assert await socket.receive_nothing(timeout=QUIET)


async def test_a_task_claimed_while_its_user_stopped_waiting_goes_back_to_the_pool(
    sockets, monkeypatch
):
    frontend = await new_frontend()
    await sync_to_async(grow_tree)(frontend)
    claimed = []

    def claim_then_unready(**kwargs):
        # The user's unready is handled while their claim runs.
        found = claim_for_push(**kwargs)
        push_redis = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
        push_redis.delete(*push_redis.keys(keys.entry("*")))
        claimed.append(found[0])
        return found

    monkeypatch.setattr(dispatch, "claim_for_push", claim_then_unready)
    socket, _ = await ready_socket(sockets, frontend, task_kind="assistant_reply")
    assert await socket.receive_nothing(timeout=QUIET)
    assert len(claimed) == 1
    task = await sync_to_async(Task.objects.get)(id=claimed[0])
    assert task.skipped and task.skip_reason == "returned"


@pytest.mark.parametrize("change", [{"enabled": False}, {"deleted": True}])
async def test_a_user_disabled_while_waiting_is_pushed_nothing_and_leaves_the_line(sockets, change):
    frontend = await new_frontend()
    first, _ = await ready_socket(sockets, frontend, ALICE, task_kind="assistant_reply")
    second, _ = await ready_socket(sockets, frontend, BOB, task_kind="assistant_reply")
    assert await first.receive_nothing(timeout=QUIET)  # no tree yet
    await sync_to_async(lambda: User.objects.filter(username=ALICE["id"]).update(**change))()

    def one_reply_slot():
        author = make_user(frontend.client_row, username="author")
        make_tree(author=author, max_children_count=1, goal_tree_size=2)

    await sync_to_async(one_reply_slot)()
    # Alice was first in line: the slot goes to Bob, Alice hears why she gets nothing.
    assert (await receive_event(second, "task_assigned"))["user"] == BOB
    dropped = await first.receive_json_from(timeout=TIMEOUT)
    assert dropped["type"] == "not_ready" and dropped["user"] == ALICE, dropped
    assert dropped["reason"] == "user_disabled" and dropped["error_code"] == 4001
    assert await first.receive_nothing(timeout=QUIET)
    assert await sync_to_async(Task.objects.filter(user__username=ALICE["id"]).count)() == 0
    line = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL).zrange(keys.ready("en"), 0, -1)
    assert [entry.decode() for entry in line] == []  # Alice left; Bob holds his max_tasks
    # Alice is no longer ready on the socket: an unready for her is answered, nothing else.
    assert await send(first, {"type": "unready", "user": ALICE}) == {
        "type": "unready_ok",
        "user": ALICE,
    }


async def test_a_ready_command_with_bad_fields_is_an_error_naming_them(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    error = await send(
        socket,
        {
            "type": "ready",
            "user": ALICE,
            "langs": ["en us!"],
            "task_kind": "dance",
            "max_tasks": 99,
        },
    )
    assert error["type"] == "error" and error["error_code"] == 0
    assert set(error["errors"]) == {"langs", "task_kind", "max_tasks"}
    error = await send(socket, {"type": "ready", "user": {"id": "x"}})
    assert "user" in error["errors"]


async def test_another_client_cannot_resume_a_session(sockets):
    first, second = await new_frontend(), await new_frontend()
    socket, answer = await ready_socket(sockets, first, task_kind="assistant_reply")
    await socket.disconnect(timeout=TIMEOUT)
    other = await sockets.connect("/ws/tasks/", key=second.key)
    error = await send(other, {"type": "resume", "resume_token": answer["resume_token"]})
    assert error["type"] == "error" and "resume token" in error["message"]
