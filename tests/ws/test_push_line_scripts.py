"""The scripts that hand the place an answer freed to whoever waits first (``keys.RETURNING``,
``keys.RESERVE_HEAD``), run on the real Redis of push dispatch."""

from __future__ import annotations

import json

import pytest
import redis
from django.conf import settings

from backend.push import keys, signals
from tests.ws.conftest import _forget_push_state

CAPS = [2000, 20000, "token-1"]  # per socket, per client, the reserving token
LOOKED_THROUGH = 32


@pytest.fixture
def line():
    if not settings.GROVE_PUSH_REDIS_URL:
        pytest.skip("push dispatch needs Redis")
    _forget_push_state()
    client = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    yield Line(client)
    _forget_push_state()
    client.close()


class Line:
    """One language's line in Redis, with entries added as ``ready`` adds them."""

    def __init__(self, client: redis.Redis):
        self.r = client
        self.now = 1_000

    def entry(self, name: str, *, waiting: bool = True, held: int = 0, alive: bool = True):
        session = f"s-{name}"
        entry_id = keys.entry_id(session, name)
        self.r.hset(
            keys.entry(entry_id),
            mapping={
                "session": session,
                "client": "c",
                "user_id": name,
                "user": json.dumps({"id": name}),
                "kind": "random",
                "langs": "en",
                "capacity": 1,
                "channel": f"channel-{name}",
            },
        )
        if alive:
            self.r.set(keys.session(session, "alive"), 1)
        if held:
            self.r.hset(keys.HELD, entry_id, held)
        if waiting:
            self.now += 1
            self.r.zadd(keys.ready("en"), {entry_id: self.now})
        return entry_id

    def returning(self, entry_id: str) -> list[str]:
        self.now += 1
        found = self.r.eval(
            keys.RETURNING,
            2,
            keys.entry(entry_id),
            keys.HELD,
            entry_id,
            *CAPS,
            self.now,
            LOOKED_THROUGH,
        )
        return [value.decode() for value in found]

    def reserve_head(self) -> str | None:
        found = self.reserve_head_ahead()
        return found[0] if found else None

    def reserve_head_ahead(self) -> tuple[str, str] | None:
        """(the entry reserved, those being claimed for before it) or None."""
        found = self.r.eval(
            keys.RESERVE_HEAD, 2, keys.ready("en"), keys.HELD, "en", *CAPS, self.now, LOOKED_THROUGH
        )
        return (found[0].decode(), found[1].decode()) if found else None

    def order(self) -> list[str]:
        return [raw.decode() for raw in self.r.zrange(keys.ready("en"), 0, -1)]

    def scarce(self) -> None:
        """A claim in this language found nothing lately (the dispatcher marks it)."""
        self.r.set(keys.scarce("en"), 1, px=30_000)

    def held(self, entry_id: str) -> int:
        return int(self.r.hget(keys.HELD, entry_id) or 0)


def test_nobody_waiting_the_answering_user_gets_the_place(line):
    alice = line.entry("alice", waiting=False)
    found = line.returning(alice)
    assert found[:3] == ["reserved", "", alice]
    assert line.held(alice) == 1 and line.order() == []


def test_someone_waiting_gets_the_place_and_the_answering_user_joins_the_end(line):
    bob = line.entry("bob")
    alice = line.entry("alice", waiting=False)
    found = line.returning(alice)
    assert found[:3] == ["head", "en", bob]
    assert line.held(bob) == 1 and line.held(alice) == 0
    assert line.order() == [bob, alice]  # bob leaves the line when his push is recorded
    line.r.zrem(keys.ready("en"), bob)
    # The second place of the answer's wake: the head of the line still waiting, Alice.
    assert line.reserve_head() == alice
    assert line.held(alice) == 1
    assert line.reserve_head() is None  # nobody else waits


def test_entries_gone_do_not_wait_before_the_answering_user(line):
    closed = line.entry("dave", alive=False)  # her socket closed
    alice = line.entry("alice", waiting=False)
    found = line.returning(alice)
    assert found[:3] == ["reserved", "", alice]
    assert closed not in line.order()
    assert line.order() == []


def test_the_answering_user_is_claimed_for_after_an_entry_being_claimed_for(line):
    """Carol waited first and a round reserved her place: her claim may want the one slot
    there is. Alice's answer reserves Alice (nobody else waits) and names Carol: Alice's claim
    waits for Carol's to end."""
    line.scarce()
    carol = line.entry("carol", held=1)
    alice = line.entry("alice", waiting=False)
    found = line.returning(alice)
    assert found[:4] == ["reserved", "", alice, f"en:{carol}"]
    assert line.held(alice) == 1


def test_with_work_for_everyone_nobody_waits_on_claims_under_way(line):
    """No claim found nothing lately: the claims under way take nothing from anyone."""
    carol = line.entry("carol", held=1)
    alice = line.entry("alice", waiting=False)
    assert line.returning(alice)[:4] == ["reserved", "", alice, ""]
    bob = line.entry("bob")
    assert line.reserve_head_ahead() == (bob, "")
    assert carol in line.order()


def test_nobody_claimed_for_ahead_names_nobody(line):
    line.scarce()
    alice = line.entry("alice", waiting=False)
    assert line.returning(alice)[:4] == ["reserved", "", alice, ""]
    bob = line.entry("bob")
    carol = line.entry("carol", waiting=False)
    assert line.returning(carol)[:4] == ["head", "en", bob, ""]


def test_a_line_too_long_to_look_through_is_left_to_a_round(line):
    for n in range(LOOKED_THROUGH + 1):
        line.entry(f"user-{n}")
    alice = line.entry("alice", waiting=False)
    assert line.returning(alice) == ["queued", "en"]
    assert line.order()[-1] == alice and line.held(alice) == 0


def test_a_user_who_stopped_waiting_is_not_served(line):
    alice = line.entry("alice", waiting=False)
    line.r.delete(keys.entry(alice))
    assert line.returning(alice) == ["gone"]
    assert line.order() == []


def test_a_round_asked_for_an_empty_line_is_not_run(line):
    def take() -> bytes | None:
        return line.r.eval(
            keys.TAKE_ROUND,
            3,
            keys.round_lock("en"),
            keys.round_holder("en"),
            keys.ready("en"),
            "token-1",
            2000,
            60_000,
        )

    assert take() == b"-"
    assert not line.r.exists(keys.round_lock("en"))  # no lock taken, no holder noted
    line.entry("bob")
    assert take() == b""  # someone waits: the round is taken (nobody held it before)
    assert line.r.get(keys.round_lock("en")) == b"token-1"


def test_the_head_behind_entries_being_claimed_for_names_them(line):
    """The second place of an answer's wake (``RESERVE_HEAD``), and the first (``RETURNING``'s
    head), name those being claimed for before the head: its claim waits for theirs."""
    line.scarce()
    carol = line.entry("carol", held=1)
    dave = line.entry("dave", held=1)
    bob = line.entry("bob")
    assert line.reserve_head_ahead() == (bob, f"en:{carol},en:{dave}")
    assert line.held(bob) == 1
    erin = line.entry("erin")
    alice = line.entry("alice", waiting=False)
    # Bob's place is reserved now: he is being claimed for too.
    ahead = f"en:{carol},en:{dave},en:{bob}"
    assert line.returning(alice)[:4] == ["head", "en", erin, ahead]


def test_a_round_is_told_an_entry_is_being_claimed_for_elsewhere(line):
    """``RESERVE`` (a round's) on an entry whose places are all held and that is still in line
    answers 1 while work is scarce: a claim for it runs elsewhere, and the round waits for it.
    With work for everyone, it is skipped as any full entry is."""
    carol = line.entry("carol", held=1)
    bob = line.entry("bob")

    def reserve(entry_id: str):
        return line.r.eval(
            keys.RESERVE, 3, keys.entry(entry_id), keys.HELD, keys.ready("en"), entry_id, *CAPS
        )

    assert reserve(carol) is None
    line.scarce()
    assert reserve(carol) == 1
    assert line.held(carol) == 1  # nothing taken
    found = reserve(bob)
    assert isinstance(found, list) and line.held(bob) == 1


def _pushed(line, entry_id: str, task_id: str) -> None:
    """A task pushed to ``entry_id`` and recorded, as RECORD leaves it."""
    session = f"s-{entry_id.split('.')[-1]}"
    line.r.hset(
        keys.task(task_id),
        mapping={"session": session, "entry": entry_id, "client": "c", "lang": "en"},
    )
    line.r.sadd(keys.session(session, "tasks"), task_id)
    line.r.hincrby(keys.HELD, entry_id, 1)
    line.r.incr(keys.session(session, "held"))
    line.r.incr("grove:push:client:c:held")
    line.r.zadd(keys.ACK_DUE, {task_id: 5_000})


def _state(line) -> dict:
    """Every push key's value (the reserving token's hash included)."""
    out = {}
    for key in sorted(line.r.scan_iter("grove:push:*")):
        kind = line.r.type(key).decode()
        if kind == "hash":
            out[key] = line.r.hgetall(key)
        elif kind == "zset":
            out[key] = line.r.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            out[key] = line.r.smembers(key)
        else:
            out[key] = line.r.get(key)
    return out


@pytest.mark.parametrize("others_waiting", [0, 1, 2], ids=["alone", "one-waits", "two-wait"])
def test_release_and_returning_in_one_call_equal_the_two_calls(line, others_waiting):
    """An answer on the user's own socket: RELEASE_RETURNING leaves Redis as RELEASE then
    RETURNING did, and answers {lang, entry, RETURNING's answer}."""
    results, states = [], []
    for merged in (False, True):
        _forget_push_state()
        line.now = 1_000
        waiting = [line.entry(f"w{i}") for i in range(others_waiting)]
        alice = line.entry("alice", waiting=False)
        _pushed(line, alice, "task-1")
        task_keys = [keys.task("task-1"), keys.HELD, keys.ACK_DUE]
        now = line.now + 1
        if merged:
            found = line.r.eval(
                keys.RELEASE_RETURNING,
                3,
                *task_keys,
                "task-1",
                *CAPS,
                now,
                LOOKED_THROUGH,
                "s-alice",
            )
        else:
            released = line.r.eval(keys.RELEASE, 3, *task_keys, "task-1", now, "s-alice")
            assert released[1].decode() == alice  # kept out of line for her socket
            line.now = now - 1
            found = released + line.r.eval(
                keys.RETURNING,
                2,
                keys.entry(alice),
                keys.HELD,
                alice,
                *CAPS,
                now,
                LOOKED_THROUGH,
            )
        results.append([value.decode() for value in found])
        states.append(_state(line))
        assert waiting or results[-1][2:5] == ["reserved", "", alice]
    assert results[0] == results[1]
    assert states[0] == states[1]


def test_release_returning_without_an_answering_socket_is_release(line):
    bob = line.entry("bob", waiting=False)
    _pushed(line, bob, "task-2")
    found = line.r.eval(
        keys.RELEASE_RETURNING,
        3,
        keys.task("task-2"),
        keys.HELD,
        keys.ACK_DUE,
        "task-2",
        *CAPS,
        2_000,
        LOOKED_THROUGH,
        "",
    )
    assert [value.decode() for value in found] == ["en", ""]
    assert line.order() == [bob] and line.held(bob) == 0


def test_an_answer_on_its_own_socket_gets_its_place_reserved_by_the_release(line):
    """With the dispatcher's line arguments, the release of a task answered on its user's
    socket also reserves the place it frees (one call, keys.RELEASE_RETURNING): it answers
    RETURNING's reply, which the dispatcher then serves without a script of its own."""
    alice = line.entry("alice", waiting=False)
    _pushed(line, alice, "task-3")
    socket_cap, client_cap, token = CAPS
    lang, kept, found = signals.release(
        "task-3",
        "en",
        keep_for="s-alice",
        line_args=(socket_cap, client_cap, token, LOOKED_THROUGH),
        signal=False,
    )
    assert (lang, kept) == ("en", alice)
    assert [value.decode() for value in found[:3]] == ["reserved", "", alice]
    assert line.held(alice) == 1  # reserved for her next push


def test_without_line_arguments_the_socket_asks_for_the_place_itself(line):
    alice = line.entry("alice", waiting=False)
    _pushed(line, alice, "task-4")
    assert signals.release("task-4", "en", keep_for="s-alice", signal=False) == (
        "en",
        alice,
        None,
    )
    assert line.held(alice) == 0  # kept out of line, nothing reserved yet
