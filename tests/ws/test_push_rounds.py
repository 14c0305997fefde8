"""Push rounds and their lock: one round per language across processes, a lock its holder
renews while the round runs (``Dispatcher.serve``), so that the lock itself can be short."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from backend.accounts.models import User
from backend.push import keys
from frontend_api.ws import dispatch
from frontend_api.ws.dispatch import ROUND_LOCK_MS
from tests.api.conftest import protocol_user
from tests.builders import make_tree, make_user
from tests.live import test_database_url
from tests.ws.conftest import QUIET, TIMEOUT, new_frontend, receive_event, send, ws_db

pytestmark = ws_db

ALICE = protocol_user("alice")


def hold_user_row(username: str) -> psycopg.Connection:
    """Another connection's transaction holding the user's row: a claim for them waits."""
    holder = psycopg.connect(test_database_url())
    user_id = User.objects.get(username=username).id
    holder.execute("SELECT 1 FROM accounts_user WHERE id = %s FOR UPDATE", [user_id])
    return holder


def grow_tree(frontend) -> None:
    make_tree(author=make_user(frontend.client_row, username="author"))


async def test_a_round_that_outlasts_its_lock_time_keeps_its_lock_until_it_ends(sockets):
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    ready = {"type": "ready", "user": ALICE, "task_kind": "assistant_reply"}
    assert (await send(socket, ready))["type"] == "ready_ok"
    assert await socket.receive_nothing(timeout=QUIET)  # no work yet
    holder = await sync_to_async(hold_user_row)("alice")
    try:
        await sync_to_async(grow_tree)(frontend)  # a round starts; its claim for alice waits
        await asyncio.sleep(3 * ROUND_LOCK_MS / 1000)
        during = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL).get(keys.round_lock("en"))
    finally:
        await sync_to_async(holder.close)()  # the claim goes on
    push = await receive_event(socket, "task_assigned")
    assert during == dispatch.dispatcher().token.encode()
    assert push["task"]["type"] == "assistant_reply"


async def test_a_round_whose_lock_was_taken_over_leaves_the_new_holders_lock(sockets):
    """The lock ran out under a stalled round and another process took it: the stalled round's
    end must not release the new holder's round."""
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    ready = {"type": "ready", "user": ALICE, "task_kind": "assistant_reply"}
    assert (await send(socket, ready))["type"] == "ready_ok"
    assert await socket.receive_nothing(timeout=QUIET)  # no work yet
    push_redis = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    holder = await sync_to_async(hold_user_row)("alice")
    try:
        await sync_to_async(grow_tree)(frontend)  # a round starts; its claim for alice waits
        await asyncio.sleep(ROUND_LOCK_MS / 1000 / 2)
        assert push_redis.get(keys.round_lock("en")) == dispatch.dispatcher().token.encode()
        push_redis.set(keys.round_lock("en"), "another-process", px=60_000)
    finally:
        await sync_to_async(holder.close)()  # the claim goes on
    await receive_event(socket, "task_assigned")  # the round's claim under way ends
    await asyncio.sleep(ROUND_LOCK_MS / 1000)
    assert push_redis.get(keys.round_lock("en")) == b"another-process"


async def alice_waiting_for_a_reply(sockets):
    """Alice ready for an assistant reply on a new socket, with no work yet: (frontend,
    socket, push Redis, her line entry's id)."""
    frontend = await new_frontend()
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    ready = {"type": "ready", "user": ALICE, "task_kind": "assistant_reply"}
    answer = await send(socket, ready)
    assert answer["type"] == "ready_ok"
    assert await socket.receive_nothing(timeout=QUIET)  # no work yet
    push_redis = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    session = dispatch.session_of_token(answer["resume_token"])
    alice_id = await sync_to_async(lambda: str(User.objects.get(username="alice").id))()
    return frontend, socket, push_redis, keys.entry_id(session, alice_id)


async def test_a_dead_holders_reserved_places_are_given_back_when_its_round_is_taken_over(
    sockets,
):
    """A round's process killed between a claim's RESERVE and its RECORD left the user's place
    held: with ``max_tasks`` 1 the user, still waiting on a socket of another process, was
    never served again. The process that takes the round over gives such places back."""
    frontend, socket, push_redis, entry = await alice_waiting_for_a_reply(sockets)
    # What the dead process did before its kill -9: took the round, reserved Alice's place.
    dead = "4242:dead-holder"
    took = push_redis.eval(
        keys.TAKE_ROUND,
        2,
        keys.round_lock("en"),
        keys.round_holder("en"),
        dead,
        ROUND_LOCK_MS,
        60_000,
    )
    assert took == b""  # nobody held it before
    reserved = push_redis.eval(
        keys.RESERVE, 3, keys.entry(entry), keys.HELD, keys.ready("en"), entry, 2000, 20000, dead
    )
    assert reserved  # her place is held now, by a claim that will never finish
    await sync_to_async(grow_tree)(frontend)  # work: this process waits for the dead lock
    push = await receive_event(socket, "task_assigned")
    assert push["task"]["type"] == "assistant_reply" and push["user"] == ALICE
    assert push_redis.hget(keys.HELD, entry) == b"1"  # the pushed task's place, no more
    assert not push_redis.exists(f"{keys.PREFIX}reserving:{dead}")


async def test_a_dead_holders_reserved_places_are_given_back_though_nobody_saw_its_lock(
    sockets, settings, monkeypatch
):
    """A round's process killed with -9 between a claim's RESERVE and its RECORD, whose lock
    ran out before any other process looked at it: the next process to take the round found
    the lock free, knew of no holder that went away, and Alice's place (``max_tasks`` 1)
    stayed held for as long as her socket lived: she was never served again."""
    settings.GROVE_PUSH_POLL_SECONDS = 60  # no poll's round looks at the dead holder's lock
    frontend, socket, push_redis, entry = await alice_waiting_for_a_reply(sockets)

    # Another process's dispatcher runs a round; its claim for Alice hangs, then it dies.
    claim_started = asyncio.Event()

    async def hanging_claim(*_args, **_kwargs):
        claim_started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(dispatch, "_claim", hanging_claim)
    dead = dispatch.Dispatcher()
    dead.kick("en")
    await asyncio.wait_for(claim_started.wait(), TIMEOUT)
    assert push_redis.get(keys.round_lock("en")) == dead.token.encode()
    assert push_redis.hget(keys.HELD, entry) == b"1"  # her place, reserved for the claim
    await kill_9(dead)
    monkeypatch.undo()
    for _ in range(50):  # its lock runs out, nobody looking
        if not push_redis.exists(keys.round_lock("en")):
            break
        await asyncio.sleep(0.1)
    assert not push_redis.exists(keys.round_lock("en"))

    await sync_to_async(grow_tree)(frontend)  # work: this process takes the round
    push = await receive_event(socket, "task_assigned")
    assert push["task"]["type"] == "assistant_reply" and push["user"] == ALICE
    assert push_redis.hget(keys.HELD, entry) == b"1"  # the pushed task's place, no more
    assert not push_redis.exists(f"{keys.PREFIX}reserving:{dead.token}")


async def kill_9(dead: dispatch.Dispatcher) -> None:
    """What a kill -9 leaves of a dispatcher: its tasks stop and nothing more of it reaches
    Redis (no end of its round, no renewal, no place given back)."""

    async def nothing(*_args, **_kwargs) -> int:
        return 0

    dead.end_round = dead.renew_round = dead.unreserve = dead.record = nothing
    for task in list(dead.rounds):
        task.cancel()
    for task in list(dead.rounds):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await dead.redis.aclose()


async def test_a_claim_that_finds_no_work_marks_its_language_scarce(sockets):
    """While work is scarce (``keys.scarce``), a claim for someone behind a user being claimed
    for waits for that claim: set when a claim finds nothing for its user."""
    frontend = await new_frontend()
    push_redis = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    assert not push_redis.exists(keys.scarce("en"))
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    ready = {"type": "ready", "user": ALICE, "task_kind": "assistant_reply"}
    assert (await send(socket, ready))["type"] == "ready_ok"
    assert await socket.receive_nothing(timeout=QUIET)  # no work: the claim missed
    assert 0 < push_redis.pttl(keys.scarce("en")) <= dispatch.SCARCE_MS
