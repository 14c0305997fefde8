"""A round's count of the work (``work_counts``): seconds over a large ready-work index. It
must hold up neither the other sockets of its process nor the first user in line."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from frontend_api.ws import dispatch
from tests.api.conftest import protocol_user
from tests.builders import make_tree, make_user
from tests.ws.conftest import QUIET, TIMEOUT, new_frontend, receive_event, send, ws_db

pytestmark = ws_db

ALICE, BOB, CAROL = protocol_user("alice"), protocol_user("bob"), protocol_user("carol")
SLOW_COUNT_SECONDS = 2


class SlowCount:
    """Once armed, every count of the work spends SLOW_COUNT_SECONDS in PostgreSQL first, as
    the count over a large index does; ``started`` is set when such a count starts."""

    def __init__(self) -> None:
        self.armed = False
        self.started = threading.Event()
        self.count = dispatch.work_counts

    def __call__(self, lang: str) -> dict[str, int]:
        if self.armed:
            self.started.set()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(%s)", [SLOW_COUNT_SECONDS])
        return self.count(lang)


@pytest.fixture
def slow_count(monkeypatch, settings) -> SlowCount:
    # The only round after the line forms is the one the new work starts (no poll's).
    settings.GROVE_PUSH_POLL_SECONDS = 60
    counting = SlowCount()
    monkeypatch.setattr(dispatch, "work_counts", counting)
    return counting


async def line_of_two(sockets, frontend):
    """Alice, then Carol, wait for a reply task on one socket: a round for them counts."""
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    for user in (ALICE, CAROL):
        ready = {"type": "ready", "user": user, "task_kind": "assistant_reply"}
        assert (await send(socket, ready))["type"] == "ready_ok"
    assert await socket.receive_nothing(timeout=QUIET)  # no work yet; the rounds ended
    return socket


def grow_tree(frontend) -> None:
    make_tree(author=make_user(frontend.client_row, username="author"))


async def test_a_slow_count_of_the_work_does_not_hold_up_the_other_sockets(sockets, slow_count):
    """The count ran on the one thread every socket's database call of the process waits
    for (``sync_to_async``): a socket that opened during a count waited for its end."""
    frontend = await new_frontend()
    waiting = await line_of_two(sockets, frontend)
    slow_count.armed = True
    await sync_to_async(grow_tree)(frontend)  # a round for the line of two: it counts
    assert await asyncio.to_thread(slow_count.started.wait, TIMEOUT)

    started = time.monotonic()
    other = await sockets.connect("/ws/tasks/", key=frontend.key)
    answer = await send(other, {"type": "ready", "user": BOB, "task_kind": "initial_prompt"})
    took = time.monotonic() - started

    assert answer["type"] == "ready_ok"
    assert took < SLOW_COUNT_SECONDS / 2, f"a socket's ready took {took:.2f} s during a count"
    assert (await receive_event(waiting, "task_assigned"))["user"] == ALICE


async def test_the_first_in_line_is_claimed_for_while_the_work_is_counted(sockets, slow_count):
    """The first user in line gets the first task whatever the count says: their claim need
    not wait for it (their push came SLOW_COUNT_SECONDS late)."""
    frontend = await new_frontend()
    socket = await line_of_two(sockets, frontend)
    slow_count.armed = True
    await sync_to_async(grow_tree)(frontend)
    grown = time.monotonic()
    push = await receive_event(socket, "task_assigned")
    waited = time.monotonic() - grown

    assert push["user"] == ALICE and push["task"]["type"] == "assistant_reply"
    assert slow_count.started.is_set()  # the round did count
    assert waited < SLOW_COUNT_SECONDS / 2, f"the first push came {waited:.2f} s after the work"
