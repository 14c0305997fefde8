"""Push dispatch across real web processes: uvicorn workers sharing the Redis line.

Sockets are real websockets (the ``websockets`` client) against ``serve_grove``; the trees are
written by this test process, whose commit signals reach the servers through Redis. (The
``sockets`` fixture only flushes Redis first and closes this process's connections after.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter

import psycopg
import pytest
import redis
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from backend.accounts.services import create_api_client
from backend.push import keys, leases
from backend.trees.models import Task
from frontend_api.ws.dispatch import session_of_token
from grove_sdk import GroveClient
from tests.builders import make_tree, make_user
from tests.live import serve_grove, start_deadline_seconds, test_database_url

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KEY = "push-processes-key-0123456789abcdefgh"
SOCKETS = 30
SLOTS = 3


def volunteer(i: int) -> dict:
    return {"id": f"volunteer-{i}", "display_name": f"V{i}", "auth_method": "local"}


async def open_ready(port: int, user: dict, **command) -> tuple:
    socket = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/tasks/", additional_headers={"X-API-Key": KEY}
    )
    await socket.send(json.dumps({"type": "ready", "user": user, **command}))
    answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert answer["type"] == "ready_ok", answer
    return socket, answer


async def first_push(socket, seconds: float) -> dict:
    """The first task_assigned frame within ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        frame = json.loads(await asyncio.wait_for(socket.recv(), left))
        if frame["type"] == "task_assigned":
            return frame
    raise TimeoutError(f"no task_assigned within {seconds} s")


async def pushes_within(socket, seconds: float) -> list[dict]:
    found, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(socket.recv(), left))
        except TimeoutError:
            break
        if frame["type"] == "task_assigned":
            found.append(frame)
    return found


@transaction.atomic
def reply_slots(count: int) -> None:
    """``count`` trees with room for exactly one assistant reply each, in one commit."""
    author = make_user(create_api_client(name="authors").client, username="author")
    for _ in range(count):
        make_tree(author=author, max_children_count=1, goal_tree_size=2)


def parents_of(task_ids: list[str]) -> list:
    return list(Task.objects.filter(id__in=task_ids).values_list("parent_message_id", flat=True))


def push_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)


async def test_many_sockets_on_three_processes_racing_for_three_slots_get_three_tasks(sockets):
    await sync_to_async(create_api_client)(name="racers", api_key=KEY)
    with serve_grove(workers=3, GROVE_THROTTLE_CLIENT="100000/minute") as port:
        sockets = []
        try:
            for i in range(SOCKETS):
                sockets.append(
                    (await open_ready(port, volunteer(i), task_kind="assistant_reply"))[0]
                )
            await asyncio.sleep(1)  # every ready's own round is over: the line is settled
            await sync_to_async(reply_slots)(SLOTS)
            pushes = await asyncio.gather(*(pushes_within(s, 6) for s in sockets))
            sessions = push_redis().keys(keys.session("*"))
            pids = {push_redis().hget(name, "pid") for name in sessions if name.count(b":") == 3}
        finally:
            for socket in sockets:
                await socket.close()
    task_ids = [push["task"]["id"] for frames in pushes for push in frames]
    assert len(task_ids) == SLOTS and len(set(task_ids)) == SLOTS  # none on two sockets
    served = [i for i, frames in enumerate(pushes) if frames]
    assert served == list(range(SLOTS))  # max_tasks 1; the first in line, whatever process
    per_node = Counter(await sync_to_async(parents_of)(task_ids))
    assert len(per_node) == SLOTS and set(per_node.values()) == {1}
    assert len(pids - {None}) >= 2, pids  # the sockets really were on several processes


async def test_a_kill_9_of_the_process_holding_a_socket_returns_its_leased_task(sockets):
    await sync_to_async(create_api_client)(name="survivors", api_key=KEY)
    await sync_to_async(reply_slots)(1)
    with serve_grove(
        workers=2, GROVE_PUSH_RESUME_SECONDS="1", GROVE_PUSH_ACK_SECONDS="600"
    ) as port:
        socket, answer = await open_ready(port, volunteer(1), task_kind="assistant_reply")
        other = None
        try:
            push = await first_push(socket, 10)
            session = session_of_token(answer["resume_token"])
            pid = int(push_redis().hget(keys.session(session), "pid"))
            os.kill(pid, signal.SIGKILL)
            # The next volunteer, on whichever process is alive, gets the slot once it is back.
            other, _ = await open_ready(port, volunteer(2), task_kind="assistant_reply")
            # Returned after the last heartbeat + 3 s + GROVE_PUSH_RESUME_SECONDS; a loaded
            # box (and a worker restarting beside) can take several times that.
            second = await first_push(other, 40)
        finally:
            for open_socket in (socket, other):
                if open_socket is not None:
                    await open_socket.close()
    returned = await sync_to_async(Task.objects.get)(id=push["task"]["id"])
    assert returned.skipped and returned.skip_reason == "returned"
    assert second["task"]["conversation"] == push["task"]["conversation"]
    assert second["task"]["id"] != push["task"]["id"]


async def test_after_a_kill_9_every_leased_task_is_answered_or_returned(sockets):
    """Issue 11: every task leased to sockets of killed processes ends either answered (before
    the kill) or back in the pool, whether it was acked or not; none stays leased, and the
    push state in Redis is gone with it. The returns are the sweep's (celery beat runs it;
    here the test process does, as any process may)."""
    await sync_to_async(create_api_client)(name="all-survivors", api_key=KEY)
    await sync_to_async(reply_slots)(4)
    users = [volunteer(20 + i) for i in range(4)]
    opened = []
    with serve_grove(
        workers=2, GROVE_PUSH_RESUME_SECONDS="1", GROVE_PUSH_ACK_SECONDS="600"
    ) as port:
        try:
            for user in users:
                opened.append(await open_ready(port, user, task_kind="assistant_reply"))
            pushes = [await first_push(socket, 15) for socket, _ in opened]
            ids = [push["task"]["id"] for push in pushes]

            def answer_one_ack_one() -> None:
                client = GroveClient(f"http://127.0.0.1:{port}", KEY)
                try:
                    client.ack_task(ids[0], "kill9-answered", user=users[0])
                    client.reply(users[0], message_id="kill9-answered", text="Answered in time.")
                    client.ack_task(ids[1], "kill9-acked", user=users[1])
                finally:
                    client.close()

            await asyncio.to_thread(answer_one_ack_one)
            sessions = [session_of_token(answer["resume_token"]) for _, answer in opened]
            pids = {int(push_redis().hget(keys.session(s), "pid")) for s in sessions}
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        finally:
            for socket, _ in opened:
                await socket.close()

    def settled() -> dict[str, tuple[bool, bool, str | None]]:
        leases.sweep()
        rows = Task.objects.filter(id__in=ids)
        return {str(t.id): (t.done, t.skipped, t.skip_reason) for t in rows}

    deadline = time.monotonic() + 30
    while True:
        states = await sync_to_async(settled)()
        if all(done or skipped for done, skipped, _ in states.values()):
            break
        assert time.monotonic() < deadline, states
        await asyncio.sleep(0.5)
    assert states[ids[0]][:2] == (True, False)  # answered before the kill: stays answered
    for task_id in ids[1:]:  # acked or not: back in the pool
        assert states[task_id] == (False, True, "returned"), states
    assert not push_redis().keys(keys.task("*"))
    assert not push_redis().hgetall(keys.HELD)


def hold_users(usernames: list[str]):
    """Another connection's transaction holding these users' rows: claims for them wait."""
    holder = psycopg.connect(test_database_url())
    holder.execute("SELECT 1 FROM accounts_user WHERE username = ANY(%s) FOR UPDATE", [usernames])
    return holder


async def round_holder_pid(lang: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while (token := push_redis().get(keys.round_lock(lang))) is None:
        assert time.monotonic() < deadline, "no round started"
        await asyncio.sleep(0.05)
    return int(token.split(b":")[0])


async def one_socket_on_each_process(port: int, first: int, waiting: dict[int, tuple]) -> None:
    """Ready volunteers from ``first`` on until ``waiting`` holds one socket of each of the two
    processes (pid -> (socket, user)); the others are closed again. ``serve_grove`` returns
    once one process answers: on a busy machine the other may still be starting, and every
    socket lands on the first (seen in CI: 20 sockets in a row on one pid). So sockets keep
    coming, a little apart, for as long as a server may take to start."""
    deadline = time.monotonic() + start_deadline_seconds(2)
    opened = 0
    while time.monotonic() < deadline:
        user = volunteer(first + opened)
        opened += 1
        socket, answer = await open_ready(port, user, task_kind="assistant_reply")
        session = keys.session(session_of_token(answer["resume_token"]))
        pid = int(push_redis().hget(session, "pid"))
        if pid in waiting:
            await socket.close()
            await asyncio.sleep(0.2)
            continue
        waiting[pid] = (socket, user)
        if len(waiting) == 2:
            return
    raise AssertionError(f"{opened} sockets, all on {set(waiting)}")


async def test_a_kill_9_of_the_round_holder_mid_round_stalls_the_line_a_few_seconds_at_most(
    sockets,
):
    """Issue 11: the process running a language's round is killed with -9 while its claims
    are under way (held up by a lock on the users' rows); a volunteer waiting on the other
    process gets its task a few seconds after the kill, not when a 15 s lock runs out."""
    await sync_to_async(create_api_client)(name="holder-killed", api_key=KEY)
    with serve_grove(workers=2) as port:
        waiting: dict[int, tuple] = {}  # pid -> (socket, user): one on each process
        holder = None
        try:
            await one_socket_on_each_process(port, 40, waiting)
            await asyncio.sleep(0.5)  # every ready's own round is over: the line is settled
            usernames = [user["id"] for _, user in waiting.values()]
            holder = await sync_to_async(hold_users)(usernames)
            await sync_to_async(reply_slots)(2)  # a round starts; its claims wait
            killed_pid = await round_holder_pid("en", 10)
            os.kill(killed_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            await sync_to_async(holder.close)()
            holder = None
            (survivor,) = [socket for pid, (socket, _) in waiting.items() if pid != killed_pid]
            push = await first_push(survivor, 15)
            waited = time.monotonic() - killed_at
        finally:
            if holder is not None:
                await sync_to_async(holder.close)()
            for socket, _ in waiting.values():
                await socket.close()
    assert push["task"]["type"] == "assistant_reply"
    assert waited < 5, f"the line waited {waited:.1f} s after its round's holder was killed"


def claims_waiting_for_locks() -> set[int]:
    """PostgreSQL backends of the test database whose ``grove_claim`` waits for a row lock."""
    with psycopg.connect(test_database_url(), autocommit=True) as watcher:
        rows = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND position('grove_claim' in query) > 0"
        ).fetchall()
    return {pid for (pid,) in rows}


def backends_left(pids: set[int]) -> set[int]:
    with psycopg.connect(test_database_url(), autocommit=True) as watcher:
        rows = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)]
        ).fetchall()
    return {pid for (pid,) in rows}


async def until(check, what: str, seconds: float):
    """``check()`` (run in a thread) once it is truthy, within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (found := await sync_to_async(check)()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        await asyncio.sleep(0.05)
    return found


async def collect_pushes(socket, found: list[tuple[float, dict]]) -> None:
    """Every task_assigned frame of ``socket`` into ``found``, with when it came."""
    while True:
        frame = json.loads(await socket.recv())
        if frame["type"] == "task_assigned":
            found.append((time.monotonic(), frame))


def unreturned_live_tasks(usernames: list[str], pushed: set[str]) -> dict[str, bool]:
    """The users' live tasks (neither done nor skipped) that were not pushed to ``pushed`` and
    that a sweep does not return; for each, whether the push state in Redis knows it."""
    leases.sweep()
    live = Task.objects.filter(user__username__in=usernames, done=False, skipped=False)
    left = {str(task_id) for task_id in live.values_list("id", flat=True)} - pushed
    return {task_id: bool(push_redis().exists(keys.task(task_id))) for task_id in left}


async def test_a_kill_9_of_the_round_holder_while_its_claims_wait_on_locks_leaves_no_task_behind(
    sockets,
):
    """Issue 11: the round holder is killed with -9 while its claims wait in PostgreSQL for the
    users' rows. When the rows are let go, those claims' backends must not commit: nobody
    would be pushed their tasks and nothing in Redis would know them, so they would hold
    their slots (and their users' pending counts) until their lease ran out. Every live task
    of the users ends up pushed to the survivor or returned by the sweep, and the survivor
    gets its push a few seconds after the kill."""
    await sync_to_async(create_api_client)(name="claims-killed", api_key=KEY)
    with serve_grove(workers=2, GROVE_PUSH_RESUME_SECONDS="1") as port:
        waiting: dict[int, tuple] = {}  # pid -> (socket, user): one on each process
        holder = None
        pushes: list[tuple[float, dict]] = []
        collecting = None
        try:
            await one_socket_on_each_process(port, 60, waiting)
            await asyncio.sleep(0.5)  # every ready's own round is over: the line is settled
            usernames = [user["id"] for _, user in waiting.values()]
            holder = await sync_to_async(hold_users)(usernames)
            await sync_to_async(reply_slots)(2)  # a round starts; its claims wait
            # Both users are in line and there are two slots: the round claims for both.
            claims = await until(
                lambda: (found := claims_waiting_for_locks()) and len(found) == 2 and found,
                "the round's two claims waiting for the users' rows",
                10,
            )
            # Read once the claims wait, while their round holds the lock (read before, it
            # could name a poll's round that found nothing and ended).
            killed_pid = await round_holder_pid("en", 1)
            os.kill(killed_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            (survivor,) = [socket for pid, (socket, _) in waiting.items() if pid != killed_pid]
            collecting = asyncio.ensure_future(collect_pushes(survivor, pushes))
            await sync_to_async(holder.close)()
            holder = None
            await until(lambda: not backends_left(claims), "the killed claims' backends end", 10)
            await asyncio.sleep(5)  # the survivor's push, if it comes in time
            pushed = {frame["task"]["id"] for _, frame in pushes}
            # A task pushed to the killed process's socket by the survivor's round (before
            # that socket's session ran out) is returned once the session is due.
            deadline = time.monotonic() + 15
            while left := await sync_to_async(unreturned_live_tasks)(usernames, pushed):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
        finally:
            if collecting is not None:
                collecting.cancel()
            if holder is not None:
                await sync_to_async(holder.close)()
            for socket, _ in waiting.values():
                await socket.close()
    assert not left, f"live tasks nobody was pushed (task id: known to Redis): {left}"
    assert pushes, "the survivor got no push"
    waited = pushes[0][0] - killed_at
    assert waited < 5, f"the line waited {waited:.1f} s after its round's holder was killed"
