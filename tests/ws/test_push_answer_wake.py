"""The task that follows an answer given on the push socket: served by that socket's process
(``Dispatcher.serve_returning``), behind anyone already waiting in the user's languages."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from backend.push import signals as push_signals
from backend.trees.growth_config import update_config
from tests.api.conftest import protocol_user
from tests.builders import GOOD_REVIEW, make_tree, make_user
from tests.ws.conftest import QUIET, new_frontend, receive_event, send, ws_db

pytestmark = ws_db

ALICE, BOB = protocol_user("alice"), protocol_user("bob")


def prompts_in_review(frontend, count: int, reviews: int) -> None:
    update_config(changes={"num_reviews_initial_prompt": reviews}, author="test")
    author = make_user(frontend.client_row, username="author")
    for _ in range(count):
        make_tree(
            author=author,
            state="initial_prompt_review",
            review_result=None,
            max_children_count=1,
            goal_tree_size=2,
        )


async def ready(sockets, frontend, user: dict, kind: str):
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    answer = await send(socket, {"type": "ready", "user": user, "task_kind": kind})
    assert answer["type"] == "ready_ok", answer
    return socket


async def review(socket, task: dict, user: dict) -> None:
    """Ack and answer a pushed label task on the socket."""
    acked = await send(
        socket, {"type": "task_ack", "task_id": task["id"], "message_id": f"fe-{task['id']}"}
    )
    assert acked["type"] == "task_acked", acked
    labels = {k: v for k, v in GOOD_REVIEW.items() if k in task["valid_labels"]}
    await socket.send_json_to(
        {
            "type": "text_labels",
            "message_id": task["message_id"],
            "task_id": task["id"],
            "labels": labels,
            "text": "",
            "user": user,
        }
    )


async def work_signals(pubsub, seconds: float) -> list[bytes]:
    """The work signals published within ``seconds``."""
    found, deadline = [], asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        if message is not None:
            found.append(message["data"])
    return found


async def test_the_task_after_a_socket_answer_comes_with_no_signal_to_every_process(sockets):
    """The answer frees the user's place and their next task follows on the same socket, with
    no work signal (each one ran a round in every web process) and no round."""
    frontend = await new_frontend()
    await sync_to_async(prompts_in_review)(frontend, count=2, reviews=3)
    socket = await ready(sockets, frontend, ALICE, "label_initial_prompt")
    first = (await receive_event(socket, "task_assigned"))["task"]
    listener = aioredis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    pubsub = listener.pubsub()
    await pubsub.subscribe(push_signals.work_channel())
    try:
        await work_signals(pubsub, 0.2)  # the subscription's own confirmation, if late
        await review(socket, first, ALICE)
        assert (await receive_event(socket, "task_done"))["id"] == first["id"]
        following = (await receive_event(socket, "task_assigned"))["task"]
        assert following["type"] == "label_initial_prompt"
        assert following["message_id"] != first["message_id"]  # a review is one per user
        assert await work_signals(pubsub, QUIET) == []
    finally:
        await pubsub.aclose()
        await listener.aclose()


async def test_a_user_answering_on_their_socket_goes_behind_those_already_waiting(sockets):
    """Bob waits for a reply task; Alice's review accepts the one prompt, which makes its one
    reply slot (no prompts are asked for). Alice (now random) could take it too, but Bob waited
    first: the slot is his, and nothing is left for Alice."""
    frontend = await new_frontend()
    await sync_to_async(prompts_in_review)(frontend, count=1, reviews=1)
    await sync_to_async(update_config)(changes={"init_prompt_disabled_langs": "en"}, author="test")
    bob = await ready(sockets, frontend, BOB, "assistant_reply")
    alice = await ready(sockets, frontend, ALICE, "label_initial_prompt")
    first = (await receive_event(alice, "task_assigned"))["task"]
    assert await bob.receive_nothing(timeout=QUIET)  # no prompt accepted yet: no reply slot
    # Alice now takes any kind: her entry's kind is what her ready said last.
    answer = await send(alice, {"type": "ready", "user": ALICE, "task_kind": "random"})
    assert answer["type"] == "ready_ok", answer
    await review(alice, first, ALICE)
    assert (await receive_event(alice, "task_done"))["id"] == first["id"]
    assert (await receive_event(bob, "task_assigned"))["task"]["type"] == "assistant_reply"
    assert await alice.receive_nothing(timeout=QUIET)


def pushed_via(caplog) -> list[str]:
    """How each task pushed so far was claimed, from the dispatcher's ``task_pushed`` log:
    "answer" (on the thread that ran the user's answer) or "line"."""
    return [
        record.getMessage().rsplit("via=", 1)[1]
        for record in caplog.records
        if record.name == "grove.push" and "event=task_pushed" in record.getMessage()
    ]


async def test_a_one_user_socket_gets_its_next_task_claimed_with_its_answer(sockets, caplog):
    """On a socket that serves one user, the thread that ran the answer claims and records
    their next task too: no hop to a claim thread, no Redis write from the event loop."""
    caplog.set_level("INFO", logger="grove.push")
    frontend = await new_frontend()
    await sync_to_async(prompts_in_review)(frontend, count=2, reviews=3)
    socket = await ready(sockets, frontend, ALICE, "label_initial_prompt")
    first = (await receive_event(socket, "task_assigned"))["task"]
    assert pushed_via(caplog) == ["line"]  # her first task: served from the line
    await review(socket, first, ALICE)
    assert (await receive_event(socket, "task_done"))["id"] == first["id"]
    following = await receive_event(socket, "task_assigned")
    assert following["task"]["message_id"] != first["message_id"]
    assert following["user"] == ALICE and following["ack_by"]
    assert pushed_via(caplog) == ["line", "answer"]
    # The task is hers as any pushed task is: acked and answered on the socket.
    await review(socket, following["task"], ALICE)
    assert (await receive_event(socket, "task_done"))["id"] == following["task"]["id"]


async def test_a_socket_of_several_users_has_their_next_tasks_claimed_apart(sockets, caplog):
    """A bot's socket serving several users: an answer's next task is claimed on a claim
    thread, so that the socket's other answers do not wait behind it."""
    caplog.set_level("INFO", logger="grove.push")
    frontend = await new_frontend()
    await sync_to_async(prompts_in_review)(frontend, count=2, reviews=3)
    socket = await ready(sockets, frontend, ALICE, "label_initial_prompt")
    first = await receive_event(socket, "task_assigned")
    answer = await send(socket, {"type": "ready", "user": BOB, "task_kind": "label_initial_prompt"})
    assert answer["type"] == "ready_ok", answer
    assert (await receive_event(socket, "task_assigned"))["user"] == BOB
    await review(socket, first["task"], ALICE)
    assert (await receive_event(socket, "task_done"))["id"] == first["task"]["id"]
    following = await receive_event(socket, "task_assigned")
    assert following["user"] == ALICE
    assert following["task"]["message_id"] != first["task"]["message_id"]
    assert pushed_via(caplog) == ["line", "line", "line"]
