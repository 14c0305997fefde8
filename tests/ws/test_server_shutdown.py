"""A web process that is told to stop (SIGTERM: a deploy, a scale-down) closes its websockets
with 1012 ("service restart": reconnect, to another process, and ``resume``) at once and exits
within docker-compose's graceful-shutdown bound; the tasks pushed to those sockets come back with
the session on the socket that resumes it elsewhere."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
import websockets
from asgiref.sync import sync_to_async

from backend.accounts.services import create_api_client
from tests.live import grove_server, serve_grove
from tests.ws.test_push_processes import first_push, open_ready, reply_slots, volunteer

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KEY = "push-processes-key-0123456789abcdefgh"  # test_push_processes' helpers send this key
SOCKETS = 12
SERVICE_RESTART = 1012


async def close_code(socket, seconds: float) -> tuple[int | None, list[str]]:
    """The socket's close code, and the types of the frames it got before the close."""
    types = []
    try:
        while True:
            types.append(json.loads(await asyncio.wait_for(socket.recv(), seconds))["type"])
    except websockets.ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd is not None else None), types


async def the_one_push(opened, seconds: float) -> tuple[int, dict]:
    """(which socket, its push) of the first push to any of the sockets. The slot goes to
    whichever ready user's claim commits first: each socket's ``ready`` claims for its user at
    once, so on a loaded machine a later socket's claim can win the only slot (README,
    "Fairness": two claims racing for the last slot could serve the later user first)."""
    waits = {asyncio.ensure_future(first_push(s, seconds)): i for i, (s, _) in enumerate(opened)}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in pending:
        wait.cancel()  # a cancelled recv loses no frame (websockets' asyncio API)
    await asyncio.gather(*pending, return_exceptions=True)
    first = next(iter(done))
    return waits[first], first.result()


async def test_a_stopping_server_closes_its_sockets_with_1012_and_their_tasks_resume_elsewhere(
    sockets,
):
    await sync_to_async(create_api_client)(name="restarted", api_key=KEY)
    await sync_to_async(reply_slots)(1)
    env = {"GROVE_PUSH_RESUME_SECONDS": "60", "GROVE_PUSH_ACK_SECONDS": "600"}
    opened = []
    # docker-compose's bound (GROVE_GRACEFUL_SHUTDOWN_SECONDS). Without one, the sockets still
    # closed with 1012 at once, but the process did not always exit: one full suite saw it
    # still running 20 s after SIGTERM (alone, 13 runs of 13 exited within 10 s).
    with grove_server(graceful_seconds=10, **env) as server:
        try:
            for i in range(SOCKETS):
                opened.append(
                    await open_ready(server.port, volunteer(40 + i), task_kind="assistant_reply")
                )
            holder, pushed = await the_one_push(opened, 10)
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            closes = await asyncio.gather(*(close_code(s, 10) for s, _ in opened))
            await asyncio.to_thread(server.process.wait, 20)
            stopped_in = time.monotonic() - started
        finally:
            for socket, _ in opened:
                await socket.close()
    assert [code for code, _types in closes] == [SERVICE_RESTART] * SOCKETS
    # One slot, one push: no other socket got it too.
    assert all("task_assigned" not in types for _code, types in closes), closes
    assert stopped_in < 15, stopped_in
    with serve_grove(**env) as port:
        socket = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/tasks/", additional_headers={"X-API-Key": KEY}
        )
        try:
            token = opened[holder][1]["resume_token"]
            await socket.send(json.dumps({"type": "resume", "resume_token": token}))
            resumed = json.loads(await asyncio.wait_for(socket.recv(), 10))
            again = json.loads(await asyncio.wait_for(socket.recv(), 10))
        finally:
            await socket.close()
    assert resumed["type"] == "resumed" and resumed["task_ids"] == [pushed["task"]["id"]]
    assert again["type"] == "task_assigned" and again["resumed"] is True
