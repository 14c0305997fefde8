"""Push dispatch: hand tasks to ready users over their sockets, in arrival order per language.

One ``Dispatcher`` runs in each web process (per event loop). The line of waiting users is in
Redis (``backend.push.keys``), so it is one line across every process:

- **Rounds.** A round serves one language: it walks the line in arrival order, reserves a
  place of the entry (``RESERVE``: socket alive, user, socket and client under their caps),
  claims a task with ``tasks.request_task`` — the service behind ``POST /tasks/``, with its
  selection, exclusions and no-over-assignment — and sends the task, rendered as REST renders
  it, to the entry's socket through the channel layer. A served entry goes to the end of the
  line (or out of it while it holds ``max_tasks``). One round per language at a time across
  processes (a Redis lock of ``ROUND_LOCK_MS`` its holder renews while the round runs); a
  round asked for while one runs is run again after it, by the process that asked if the
  holder died. A round stops when nothing is left to hand out in the language. A line of
  more than one is counted first (``work_counts``), its head claimed for meanwhile.
- **Holders that die.** Taking the lock notes its holder in Redis (``keys.TAKE_ROUND``);
  ending the round clears the note. A note found by the next taker is a holder that died
  mid-round: the places its claims reserved go back, whether or not anyone saw it die.
- **Threads.** Claims run on a pool of ``PARALLEL_CLAIMS`` threads; the rest of the
  dispatcher's database work on one thread of its own, never on the thread Channels shares
  among every socket's database calls. The one exception: the next task of a user whose
  socket serves only them is claimed and recorded by the thread that ran their answer
  (``claim_returning``), which saves a thread hop and a Redis write from the event loop.
- **An answer's wake.** An answer given on the socket a task was pushed to keeps its user out
  of line as it frees their place (``push_signals.SocketAnswer``); that process then hands the
  place to whoever waits first in the user's languages (``keys.RETURNING``): the user when
  nobody else waits, else the first in line and then the head of the line once more, so that
  a line shrinks while there is work (``serve_returning``). No signal, no round. A push to a
  socket of this process is sent to it directly, not through the channel layer.
- **Fairness when work is scarce.** For ``SCARCE_MS`` after a claim found nothing for its
  user, a claim for someone behind a user being claimed for elsewhere (an answer's wake, or a
  round meeting an entry another process reserved) waits for that claim to end first: the
  work may be enough for one of them only, and it is theirs.
- **Triggers.** The ``ready`` command; ``grove:push:<db>:work`` messages (``backend.push.signals``:
  the ready-work index grew, a task closed or was returned; sent only for a language someone
  waits in, ``keys.PUBLISH_WAITED``); a poll of every language with
  waiting users each ``GROVE_PUSH_POLL_SECONDS`` (work that appears without a write, such as
  a REST task's lease running out).
- **Leases.** A pushed task must be acknowledged within ``GROVE_PUSH_ACK_SECONDS``; else it is
  returned (``services.push_leases``). A socket's session outlives its socket by
  ``GROVE_PUSH_RESUME_SECONDS``; a web process refreshes its sessions every tick, so the
  sessions of a process killed with -9 run out too. When a session runs out, its open tasks
  are returned. Any process does these returns (``backend.push.leases.sweep``; celery beat
  runs it too).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from datetime import UTC, datetime

import redis
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from backend import async_redis, lean_redis
from backend.accounts.models import User
from backend.accounts.services import UserDisabled
from backend.compiled_query import SENTINEL_IDS, CompiledQuery
from backend.push import keys, leases
from backend.push import signals as push_signals
from backend.thread_hop import in_thread
from backend.trees import work_queries
from backend.trees.core.policy import NoTaskAvailable, TaskKind
from backend.trees.core.task_kinds import REPLY_KINDS
from backend.trees.growth_config import active_config
from backend.trees.services import tasks
from backend.trees.services.push_leases import return_pushed_task
from frontend_api.v1.protocol import render_task

logger = logging.getLogger("grove.push")

PUSH_MESSAGE_TYPE = "push.task"  # handled by TaskEventsConsumer.push_task
DROPPED_MESSAGE_TYPE = "push.dropped"  # handled by TaskEventsConsumer.push_dropped
# A round's lock runs out this long after its holder's last renewal (a holder killed with -9
# stalls its language's line that long); renewed every ROUND_RENEW_SECONDS while it runs.
ROUND_LOCK_MS = 2_000
ROUND_RENEW_SECONDS = 0.5
# A request for another round outlives the lock it waits for (``_holder_went_away``).
RERUN_MS = 2 * ROUND_LOCK_MS
# The note of a round's holder (``keys.TAKE_ROUND``) lasts as long as its reservations.
ROUND_HOLDER_MS = 3_600_000
MAX_ENTRIES_PER_ROUND = 5000
# Claims that found nothing for their user before a round gives up (each costs a query).
MAX_MISSES_PER_ROUND = 64
# Claims of one round under way at once (each holds a database connection of the pool).
PARALLEL_CLAIMS = 8
# Entries of the line read from Redis at a time.
LINE_WINDOW = 100
# A user who answered on their socket is served by it at once when nobody else in their lines
# waits (those whose places are all reserved are being served); a longer line is not looked
# through (the script would hold Redis that long): they join it and a round serves them.
RETURNING_LINE_LOOKED_THROUGH = 32
# A claim for someone behind an entry being claimed for elsewhere waits for that claim to end
# (it takes milliseconds; a process killed mid-claim leaves its place held: bounded).
CLAIMED_ELSEWHERE_SECONDS = 1.0
CLAIMED_ELSEWHERE_POLL_SECONDS = 0.005
# ... only while work is scarce in that language: for this long after a claim found nothing
# for its user (keys.scarce; not one that lost its races to concurrent claims). With work for
# everyone nobody waits on anyone.
SCARCE_MS = 30_000


def session_of_token(token: str) -> str:
    """The session id a resume token stands for (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


def new_resume_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, session_of_token(token)


def _cancelling() -> bool:
    """Whether this task is being cancelled (asyncio.run's shutdown cancels every task and
    waits for each: a loop that swallowed the cancellation would keep the process alive)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _fields(flat: list[bytes]) -> dict[str, str]:
    """A Redis hash read as a flat list (HGETALL in a script), as a dict."""
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def _alive_ms() -> int:
    return max(3000, int(settings.GROVE_PUSH_TICK_SECONDS * 4000))


# --- the database side (run in a thread) ---------------------------------------------------


# The claim's user: compiled once (building and compiling a ``select_related(...).get()``
# was as much of a claim's CPU as the claim's own queries). Its API client's row is not
# read: the claim needs only its id, which the user row holds.
_USER = CompiledQuery(
    lambda user_id: User.objects.filter(id=user_id), sentinels={"user_id": SENTINEL_IDS[0]}
)


def claim_for_push(*, user_id: str, kind: str, lang: str) -> tuple[str, dict]:
    """The next task for the user, claimed as ``POST /tasks/`` claims it; (id, wire JSON).

    Raises ``UserDisabled`` for a user disabled or deleted since they became ready (REST
    refuses such a user's requests with 4001; a push must not serve them either)."""
    found = _USER.fetch({"user_id": uuid.UUID(user_id)})
    if not found:
        raise User.DoesNotExist(user_id)
    user = found[0]
    if not user.enabled or user.deleted:
        raise UserDisabled(f"user {user.auth_method}:{user.username} is disabled")
    task = tasks.request_task(user=user, kind=TaskKind(kind), lang=lang)
    return str(task.id), render_task(task, viewer=user)


def work_counts(lang: str) -> dict[str, int]:
    """How many tasks of each kind ``lang`` has room for, before any user's exclusions: the
    free slots of each review and ranking (a prompt waiting for three reviews counts three, so
    three users' claims run at once), one per reply parent (its tree's room is not read), the
    prompts missing; ``random`` is their sum."""
    rows = work_queries.eligible(
        lang=lang, now=timezone.now(), config=active_config(), user_id=None
    )
    counts = dict.fromkeys((kind.value for kind in TaskKind), 0)
    for row in rows:
        if row.kind == TaskKind.INITIAL_PROMPT.value:
            room = max(0, row.slots)
        elif TaskKind(row.kind) in REPLY_KINDS:
            room = 1
        else:
            room = max(1, row.slots - (row.leased or 0))
        counts[row.kind] += room
    counts[TaskKind.RANDOM.value] = sum(counts.values())
    return counts


# The dispatcher's own database work (counts of the work, returns, sweeps) runs on a thread
# of its own, in order, on one connection. On the thread Channels keeps for every
# ``sync_to_async`` call of the process, a count of seconds (a large ready-work index) held up
# every socket's database call behind it: a socket's ready waited 2 s for a 2 s count.
_dispatch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-db")


def _db(function):
    return functools.partial(in_thread, _dispatch_thread, function)


def _wait_for_db_work(timeout: float = 10.0) -> None:
    """Until the dispatcher's database work queued so far has ended."""
    futures_wait([_dispatch_thread.submit(lambda: None)], timeout)


# Claims run in threads of their own, so that a round's claims overlap (``_db`` runs every
# call on the dispatcher's one thread).
_claim_threads = ThreadPoolExecutor(max_workers=PARALLEL_CLAIMS, thread_name_prefix="push-claim")


@dataclasses.dataclass
class Claim:
    """What ``claim_first`` found for a reserved place: a task (``task_id``, its wire JSON in
    ``body``, its language), or nothing (``scarce``: the languages where nothing was left for
    anyone, not only for this user), or a refusal (``disabled``: why the user may not be
    served; ``failed``: the claim raised, and was logged). ``recorded``: RECORD's answer when
    the claim's own thread ran it (``claim_returning``), else None: the dispatcher records."""

    started: float
    lang: str = ""
    task_id: str = ""
    body: dict | None = None
    scarce: list[str] = dataclasses.field(default_factory=list)
    disabled: str = ""
    failed: bool = False
    ack_due: int = 0
    recorded: bool | None = None
    record_failed: bool = False
    via: str = "line"  # "answer": claimed by the thread that ran the user's answer


def claim_first(entry_id: str, entry: dict, langs: list[str]) -> Claim:
    """A task for ``entry`` in the first of ``langs`` with work for them (in a thread)."""
    claim = Claim(started=time.perf_counter())
    for lang in langs:
        try:
            claim.task_id, claim.body = claim_for_push(
                user_id=entry["user_id"], kind=entry["kind"], lang=lang
            )
        except NoTaskAvailable as exc:
            logger.debug("event=push_missed entry=%s lang=%s why=%s", entry_id, lang, exc)
            if not exc.contended:
                claim.scarce.append(lang)
            continue
        except UserDisabled as exc:
            claim.disabled = str(exc)
        except Exception:
            logger.exception("event=push_claim_failed entry=%s lang=%s", entry_id, lang)
            claim.failed = True
        else:
            claim.lang = lang
        return claim
    return claim


def _claim(entry_id: str, entry: dict, langs: list[str]):
    return in_thread(_claim_threads, claim_first, entry_id, entry, langs)


def _record_args(entry_id: str, entry: dict, claim: Claim, now: int, token: str) -> dict:
    """RECORD's keys and arguments for ``claim``'s task, whose ack is due from ``now``."""
    claim.ack_due = now + settings.GROVE_PUSH_ACK_SECONDS * 1000
    return {
        "keys": [keys.task(claim.task_id), keys.HELD, keys.ACK_DUE],
        "args": [
            claim.task_id,
            entry_id,
            entry["session"],
            claim.lang,
            entry["client"],
            entry["user"],
            claim.ack_due,
            now,
            token,
        ],
    }


RECORD = lean_redis.Script(keys.RECORD)


def claim_returning(entry_id: str, found: list | None, token: str) -> Claim | None:
    """An answer's own next task, claimed and recorded on the thread that ran the answer, for
    a socket that serves one user: the place its release kept for the user (``found``:
    ``keys.RELEASE_RETURNING``'s answer) when nobody waits before them. Handing the claim to a
    claim thread and recording it from the event loop cost a thread hop, a wake of the loop
    and a Redis write from it per task cycle: at 16 push volunteers, 6 % of a web process's
    GIL samples (py-spy) were those hops' and that write's. None: the dispatcher serves the
    place (``serve_returning``), as for any other answer."""
    if not found or found[0] != b"reserved" or found[3]:
        return None
    entry = _fields(found[4:])
    claim = claim_first(entry_id, entry, entry["langs"].split(","))
    claim.via = "answer"
    if claim.task_id:
        try:
            claim.recorded = bool(
                push_signals.lean_scripts().run(
                    RECORD, **_record_args(entry_id, entry, claim, _now_ms(), token)
                )
            )
        except (redis.RedisError, OSError):
            logger.exception("event=push_record_failed task=%s entry=%s", claim.task_id, entry_id)
            claim.record_failed = True
    return claim


def _wait_for_claims(timeout: float = 10.0) -> None:
    """Until every claim under way has ended: one waiter per claim thread, all meeting."""
    meeting = threading.Barrier(PARALLEL_CLAIMS)
    waiters = [_claim_threads.submit(meeting.wait, timeout) for _ in range(PARALLEL_CLAIMS)]
    futures_wait(waiters, timeout)


def _within_budget(budget: dict[str, int], spent: collections.Counter, kind: str) -> bool:
    """Whether one more claim of ``kind`` fits the work counted (``random`` counts all)."""
    random_left = budget.get(TaskKind.RANDOM.value, 0) - spent[TaskKind.RANDOM.value]
    return random_left > 0 and budget.get(kind, 0) - spent[kind] > 0


# --- the dispatcher ------------------------------------------------------------------------


class _Round:
    """One walk of a language's line (``Dispatcher.serve``)."""

    def __init__(self, dispatcher: Dispatcher, lang: str) -> None:
        self.d, self.lang = dispatcher, lang
        self.exhausted: set[str] = set()
        self.considered: set[str] = set()
        self.rerun = keys.rerun(lang)
        # Claims under way: task -> (entry id, kind, whether it is a retry, its start number).
        self.flying: dict[asyncio.Task, tuple[str, str, bool, int]] = {}
        self.started = 0
        # Claims that had company (others under way when they started or started after them).
        self.contended: set[int] = set()
        self.holding: collections.Counter[str] = collections.Counter()  # kinds under way
        self.misses = 0
        self.stopping = False  # no new claims: drain the ones under way

    async def run(self) -> None:
        d, lang = self.d, self.lang
        # The kinds the line asks for: once none of them has work left, the rest of the line
        # is not read (a thousand users waiting for one kind were read 100 at a time, and
        # their kinds one by one, after every push that spent its work).
        self.asked = {raw.decode() for raw in await d.redis.smembers(keys.kinds(lang))}
        # A line of one (the user who just answered, most often) is served without counting
        # the work; a longer line is counted (its first user's claim runs meanwhile), then
        # served in parallel.
        self.budget: dict[str, int] = dict.fromkeys((kind.value for kind in TaskKind), 1)
        self.counted = False
        try:
            while not self.stopping and len(self.considered) < MAX_ENTRIES_PER_ROUND:
                if self.counted and d._nothing_for(self.asked, self.budget, self.exhausted):
                    break
                waiting = await d._line_window(lang, self.considered)
                if not waiting:
                    break
                if not self.counted and len(waiting) > 1:
                    (head, head_kind), *waiting = waiting
                    await self.count_claiming_for(head, head_kind)
                for entry_id, kind in waiting:
                    if self.stopping or not await self.start(entry_id, kind):
                        break
            while self.flying:
                await self.settle()
        finally:
            for task in self.flying:
                task.cancel()

    async def start(self, entry_id: str, kind: str, retry: bool = False) -> bool:
        """Claim for the entry once the budget and the window let it; False: stop walking."""
        while True:
            if kind in self.exhausted:
                return True  # nothing of its kind left: the next in line
            if self.stopping:
                return False
            if len(self.flying) < PARALLEL_CLAIMS and _within_budget(
                self.budget, self.holding, kind
            ):
                break
            if self.flying:
                await self.settle()
                continue
            # The budget ran out before the line did (nothing under way): count again.
            await self.recount(kind)
            if self.d._nothing_for(self.asked, self.budget, self.exhausted):
                return False
        task = asyncio.ensure_future(self.d.serve_entry(entry_id, self.lang))
        for _entry, _kind, _retry, number in self.flying.values():
            self.contended.update({number, self.started})
        self.flying[task] = (entry_id, kind, retry, self.started)
        self.started += 1
        self.holding.update({kind, TaskKind.RANDOM.value})
        return True

    async def settle(self) -> None:
        """Wait for a claim under way to end and account for it."""
        done, _ = await asyncio.wait(self.flying, return_when=asyncio.FIRST_COMPLETED)
        ended = [(task, self.flying.pop(task)) for task in done]
        for _task, (_entry, kind, _retry, _number) in ended:
            self.holding.subtract({kind, TaskKind.RANDOM.value})
        for task, (entry_id, kind, retry, number) in ended:
            result = task.result()
            if result == "served":
                for spent_kind in {kind, TaskKind.RANDOM.value}:
                    self.budget[spent_kind] -= 1
            elif result == "missed":
                await self.missed(entry_id, kind, retry, number in self.contended)

    async def missed(self, entry_id: str, kind: str, retry: bool, contended: bool) -> None:
        if not retry and contended:
            # It may have lost its races to claims under way: once more, before anyone
            # behind it starts.
            await self.start(entry_id, kind, retry=True)
            return
        self.counted = True
        self.misses += 1
        if self.misses >= MAX_MISSES_PER_ROUND:
            self.stopping = True
        elif self.lang in self.d.again or await self.d.redis.exists(self.rerun):
            # Work appeared while the round walked the line: start again from its head, or a
            # user behind one who just missed would take it first.
            self.stopping = True
        else:
            await self.recount(None)
            if self.d._nothing_for(self.asked, self.budget, self.exhausted):
                self.stopping = True

    async def count_claiming_for(self, entry_id: str, kind: str) -> None:
        """Count the work while the first in line is claimed for: they get the first task
        whatever the count says, and the count takes seconds over a large ready-work index
        (their push came that much later). Their claim holds one of the counted budget until
        it settles; a count that began after it took its task counted that task gone too, so
        the budget errs low (one more count later), never high."""
        counting = asyncio.ensure_future(self.d._recount(self.lang, self.exhausted, None))
        try:
            await self.start(entry_id, kind)
            self.budget = await counting
        finally:
            counting.cancel()
        self.counted = True

    async def recount(self, kind: str | None) -> None:
        self.counted = True
        self.budget = await self.d._recount(self.lang, self.exhausted, kind)


_dispatchers: dict[asyncio.AbstractEventLoop, Dispatcher] = {}


def is_enabled() -> bool:
    return bool(settings.GROVE_PUSH_REDIS_URL)


def dispatcher() -> Dispatcher:
    """This event loop's dispatcher, started on first use."""
    loop = asyncio.get_running_loop()
    found = _dispatchers.get(loop)
    if found is None:
        found = _dispatchers[loop] = Dispatcher()
        found.start()
    return found


async def stop_dispatchers() -> None:
    """Stop this loop's dispatcher (tests: before the loop closes)."""
    found = _dispatchers.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.stop()


class Dispatcher:
    def __init__(self) -> None:
        self.redis = async_redis.client(
            settings.GROVE_PUSH_REDIS_URL, connect_timeout=2, socket_timeout=10
        )
        # The scripts of every push (reserve, record, a returning user's place) on one
        # pipelined connection (``backend.lean_redis``: redis-py's asyncio scripts were 15 % of
        # a web process's GIL samples at 16 push volunteers).
        self.scripts = lean_redis.async_scripts(
            settings.GROVE_PUSH_REDIS_URL, connect_timeout=2, timeout=10
        )
        self.layer = get_channel_layer()
        # This dispatcher's round lock value: its process (who holds a language's round) and
        # a random part (a restarted process's pid may be reused).
        self.token = f"{os.getpid()}:{uuid.uuid4().hex}"
        self.sessions: dict[str, str] = {}  # session id -> channel name, sockets of this loop
        self.local: dict[str, Callable] = {}  # session id -> its socket's send (a message)
        self.running: set[str] = set()
        self.again: set[str] = set()
        self.background: list[asyncio.Task] = []
        self.rounds: set[asyncio.Task] = set()
        self.renew_round = self.scripts.register(keys.RENEW_ROUND)
        self.take_round = self.scripts.register(keys.TAKE_ROUND)
        self.end_round = self.scripts.register(keys.END_ROUND)
        self.reserve = self.scripts.register(keys.RESERVE)
        self.returning = self.scripts.register(keys.RETURNING)
        self.reserve_head = self.scripts.register(keys.RESERVE_HEAD)
        self.rejoin = self.scripts.register(keys.REJOIN)
        self.unreserve = self.scripts.register(keys.UNRESERVE)
        self.forget_reservations = self.scripts.register(keys.FORGET_RESERVATIONS)
        self.record = self.scripts.register(keys.RECORD)
        self.drop_entry = self.scripts.register(keys.DROP_ENTRY)
        self.beat = self.scripts.register(keys.HEARTBEAT)
        self.line_empty = self.scripts.register(keys.LINE_EMPTY)
        self.next_poll = 0.0

    def _spawn(self, coroutine) -> asyncio.Task:
        # A fresh context: a task must not inherit the consumer's (a socket's lifetime).
        return asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())

    def start(self) -> None:
        self.background = [self._spawn(self.listen()), self._spawn(self.upkeep())]

    async def stop(self) -> None:
        for task in [*self.background, *self.rounds]:
            task.cancel()
        for task in [*self.background, *self.rounds]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # A cancelled round leaves its claims running in their threads: let them end, so
        # that nothing writes to the database after the loop (a test's flush) moves on.
        await asyncio.to_thread(_wait_for_claims)
        await asyncio.to_thread(_wait_for_db_work)
        await self.redis.aclose()
        self.scripts.close()

    # --- sessions and readiness (called by the consumers) ---

    async def attach(
        self, session: str, *, channel: str, client_id: str, send: Callable | None = None
    ) -> None:
        """The socket ``channel`` holds ``session``; ``send(message)`` hands it a push here."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            keys.session(session),
            mapping={"client": client_id, "channel": channel, "pid": os.getpid()},
        )
        pipe.set(keys.session(session, "alive"), channel, px=_alive_ms())
        pipe.zadd(keys.SESSION_DUE, {session: self._session_due()})
        pipe.set(keys.ACTIVE, 1, ex=10)
        await pipe.execute()
        self.sessions[session] = channel
        if send is not None:
            self.local[session] = send
        push_signals.forget_active()

    async def detach(self, session: str) -> None:
        """The socket closed: its users stop waiting; its tasks wait for a resume."""
        self.sessions.pop(session, None)
        self.local.pop(session, None)
        for entry_id in await self.redis.smembers(keys.session(session, "entries")):
            await self._drop_entry(entry_id.decode())
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.session(session, "alive"), keys.session(session, "entries"))
        due = _now_ms() + settings.GROVE_PUSH_RESUME_SECONDS * 1000
        pipe.zadd(keys.SESSION_DUE, {session: due})
        await pipe.execute()

    async def owner_of(self, session: str) -> tuple[str | None, bool]:
        """(the session's client id or None, whether a socket holds it now)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.session(session), "client")
        pipe.exists(keys.session(session, "alive"))
        client, alive = await pipe.execute()
        return (client.decode() if client else None), bool(alive)

    async def session_tasks(self, session: str) -> list[tuple[str, dict, int | None]]:
        """The session's pushed tasks still open: (task id, OA user, ack deadline ms)."""
        found = []
        for raw in await self.redis.smembers(keys.session(session, "tasks")):
            task_id = raw.decode()
            user = await self.redis.hget(keys.task(task_id), "user")
            due = await self.redis.zscore(keys.ACK_DUE, task_id)
            if user is not None:
                found.append((task_id, json.loads(user), int(due) if due else None))
        return found

    async def ready(
        self,
        session: str,
        *,
        client_id: str,
        user_id: str,
        user: dict,
        langs: list[str],
        kind: str,
        max_tasks: int,
    ) -> str | None:
        """The user waits on this session for tasks; an error message when a cap is reached."""
        entry_id = keys.entry_id(session, user_id)
        client_ready = keys.client(client_id, "ready")
        if not await self.redis.sismember(client_ready, entry_id) and (
            await self.redis.scard(client_ready) >= settings.GROVE_PUSH_MAX_READY_USERS_PER_CLIENT
        ):
            return (
                "this API client has GROVE_PUSH_MAX_READY_USERS_PER_CLIENT="
                f"{settings.GROVE_PUSH_MAX_READY_USERS_PER_CLIENT} ready users already"
            )
        old = await self.redis.hget(keys.entry(entry_id), "langs")
        now = _now_ms()
        pipe = self.redis.pipeline(transaction=True)
        for lang in set(old.decode().split(",") if old else ()) - set(langs):
            pipe.zrem(keys.ready(lang), entry_id)
        pipe.hset(
            keys.entry(entry_id),
            mapping={
                "session": session,
                "client": client_id,
                "user_id": user_id,
                "user": json.dumps(user),
                "kind": kind,
                "langs": ",".join(langs),
                "capacity": max_tasks,
                "channel": self.sessions.get(session, ""),
            },
        )
        pipe.sadd(keys.session(session, "entries"), entry_id)
        pipe.sadd(client_ready, entry_id)
        for lang in langs:
            pipe.zadd(keys.ready(lang), {entry_id: now}, nx=True)
            pipe.sadd(keys.kinds(lang), kind)
            pipe.sadd(keys.LANGS, lang)
        await pipe.execute()
        self.spawn(self.serve_newcomer(entry_id, langs))
        return None

    async def serve_newcomer(self, entry_id: str, langs: list[str]) -> None:
        """A user who just became ready gets what exists at once. Only they are tried, not
        the whole line: the users before them already got whatever work there is for them
        (every change of the work runs a round), so the newcomer takes nothing of theirs."""
        try:
            for lang in langs:
                if await self.serve_entry(entry_id, lang) != "missed":
                    return
        except Exception:
            if _cancelling():
                raise
            logger.exception("event=push_newcomer_failed entry=%s", entry_id)

    async def unready(self, session: str, user_id: str) -> None:
        entry_id = keys.entry_id(session, user_id)
        await self._drop_entry(entry_id)
        await self.redis.srem(keys.session(session, "entries"), entry_id)

    async def _drop_entry(self, entry_id: str) -> None:
        await self.drop_entry(keys=[keys.entry(entry_id)], args=[entry_id])

    async def _drop_disabled(self, entry_id: str, entry: dict, why: str) -> None:
        """A user disabled or deleted while they waited leaves the line (of every language)
        and their socket is told, with the error REST answers their requests with."""
        await self._drop_entry(entry_id)
        logger.warning("event=push_user_disabled entry=%s", entry_id)
        message = {"type": DROPPED_MESSAGE_TYPE, "user": json.loads(entry["user"]), "why": why}
        with contextlib.suppress(ChannelFull):
            await self.layer.send(entry["channel"], message)

    # --- rounds ---

    def kick(self, lang: str) -> None:
        """Run a round for ``lang`` soon (again after the current one, if one runs here)."""
        if lang in self.running:
            self.again.add(lang)
            return
        self.running.add(lang)
        self.spawn(self._rounds(lang))

    async def _rounds(self, lang: str) -> None:
        lock, rerun = keys.round_lock(lang), keys.rerun(lang)
        try:
            while True:
                self.again.discard(lang)
                previous = await self.take_round(
                    keys=[lock, keys.round_holder(lang), keys.ready(lang)],
                    args=[self.token, ROUND_LOCK_MS, ROUND_HOLDER_MS],
                )
                if previous == b"-":
                    pass  # nobody waits: no round
                elif previous is not None:
                    await self._take_over(lang, previous.decode())
                    await self.serve(lang)
                    if await self.redis.getdel(rerun):
                        self.again.add(lang)
                elif await self._holder_went_away(lang, lock, rerun):
                    self.again.add(lang)
                if lang not in self.again:
                    return
        except Exception:
            if _cancelling():
                raise
            logger.exception("event=push_round_failed lang=%s", lang)
        finally:
            self.running.discard(lang)

    async def _holder_went_away(self, lang: str, lock: str, rerun: str) -> bool:
        """Another process runs the round: ask it for one more (it reads ``rerun`` when its
        round ends), then look again once its lock could have run out (or at once when this
        process is asked for a round meanwhile). True when the request is still unread then:
        the holder died (killed with -9) and this process serves the line itself,
        ``ROUND_LOCK_MS`` after the holder's last renewal at most."""
        await self.redis.set(rerun, 1, px=RERUN_MS)
        left_ms = await self.redis.pttl(lock)  # negative: gone already
        deadline = time.monotonic() + max(left_ms, 0) / 1000 + 0.05
        while lang not in self.again and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.1))
        return bool(await self.redis.exists(rerun))

    async def _take_over(self, lang: str, holder: str) -> None:
        """This process took the round of ``holder``, which never ended it (killed with -9, or
        stalled past its lock; '': none): the places its claims had reserved and never
        recorded or gave back are given back. The holder is read from Redis as the lock is
        taken (``keys.TAKE_ROUND``): a holder whose lock ran out while no process waited on
        it left its places held for as long as their users' sockets lived."""
        if not holder or holder == self.token:
            return
        given = await self.forget_reservations(keys=[keys.HELD], args=[holder])
        if given:
            logger.warning(
                "event=push_reservations_returned lang=%s holder=%s places=%s",
                lang,
                holder,
                given,
            )

    async def serve(self, lang: str) -> None:
        """Walk the line once, from its head, a window of entries at a time, holding the
        language's round lock (taken by the caller): renewed while the round runs, given
        back when it ends; a round that finds its lock lost starts no more claims.

        The head of the line is claimed for at once, while a longer line is counted. Claims
        run up to ``PARALLEL_CLAIMS`` at once (each waits mostly on PostgreSQL), a
        sliding window: the next user in line is claimed for as soon as any claim ends (a
        batch waited for its slowest claim). Never more claims than the work counted for them
        (``work_counts``, a budget that claims under way hold and pushes spend): two claims
        racing for the last slot could hand it to the later user in line. A claim that found
        nothing (it lost its races to the others under way: each retries a few candidates
        only) is tried once more before anyone behind starts. A kind found with nothing left
        is not tried again for the users behind (no query, no Redis call each); the round
        ends when nothing the line asks for is left."""
        round_ = _Round(self, lang)
        renewing = self._spawn(self._renew_round(round_))
        try:
            await round_.run()
        finally:
            # Not awaited: a renewal that reaches Redis after the release finds the lock gone.
            renewing.cancel()
            await self.end_round(
                keys=[keys.round_lock(lang), keys.round_holder(lang)], args=[self.token]
            )

    async def _renew_round(self, round_: _Round) -> None:
        lock, rerun = keys.round_lock(round_.lang), keys.rerun(round_.lang)
        renewed = time.monotonic()  # the lock was taken just before
        while True:
            await asyncio.sleep(ROUND_RENEW_SECONDS)
            try:
                held = await self.renew_round(
                    keys=[lock, rerun], args=[self.token, ROUND_LOCK_MS, RERUN_MS]
                )
            except Exception:
                logger.exception("event=push_round_renew_failed lang=%s", round_.lang)
                continue
            if not held:
                # It ran out (this loop stalled past ROUND_LOCK_MS): another process may be
                # walking the line already.
                logger.warning(
                    "event=push_round_lock_lost lang=%s since_renewal_ms=%.0f",
                    round_.lang,
                    (time.monotonic() - renewed) * 1000,
                )
                round_.stopping = True
                return
            renewed = time.monotonic()

    @staticmethod
    def _nothing_for(asked: set[str], budget: dict[str, int], exhausted: set[str]) -> bool:
        """Whether no kind the line asks for can be served any more in this round."""
        if budget.get(TaskKind.RANDOM.value, 0) <= 0:
            return True
        if not asked or TaskKind.RANDOM.value in asked:
            return False  # (not known: a line older than the kinds' set) / random: any work
        return all(kind in exhausted or budget.get(kind, 0) <= 0 for kind in asked)

    async def _recount(self, lang: str, exhausted: set[str], kind: str | None) -> dict:
        budget = await _db(work_counts)(lang)
        exhausted |= {k for k, n in budget.items() if n <= 0}
        if kind is not None and budget.get(kind, 0) <= 0:
            exhausted.add(kind)
        return budget

    async def _line_window(self, lang: str, considered: set[str]) -> list[tuple[str, str]]:
        """(entry id, task kind) of the next ``LINE_WINDOW`` entries of the line not yet
        considered in this round, in arrival order (a served entry moves to the end of the
        line or out of it, so the line is read from its head each time)."""
        end = len(considered) + LINE_WINDOW - 1
        entries = [
            raw.decode()
            for raw in await self.redis.zrange(keys.ready(lang), 0, end)
            if raw.decode() not in considered
        ][:LINE_WINDOW]
        considered.update(entries)
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in entries:
            pipe.hget(keys.entry(entry_id), "kind")
        kinds = await pipe.execute()
        return [
            (entry_id, kind.decode())
            for entry_id, kind in zip(entries, kinds, strict=True)
            if kind is not None  # gone (RESERVE drops it from the line)
        ]

    async def serve_entry(self, entry_id: str, lang: str) -> str:
        """ "served", "missed" (nothing for this user) or "skipped" (not waiting, or full)."""
        flat = await self.reserve(
            keys=[keys.entry(entry_id), keys.HELD, keys.ready(lang)],
            args=[
                entry_id,
                settings.GROVE_PUSH_MAX_TASKS_PER_SOCKET,
                settings.GROVE_PUSH_MAX_TASKS_PER_CLIENT,
                self.token,
            ],
        )
        if flat == 1:
            await self._claims_ended(f"{lang}:{entry_id}")
            return "skipped"
        if not flat:
            return "skipped"
        return await self._claim_reserved(entry_id, _fields(flat), [lang])

    async def _claims_ended(self, ahead: str) -> None:
        """Until the claims under way for the entries ``ahead`` ("lang:id,...": being claimed
        for, before someone this process is about to claim for) have ended, each place
        recorded or given back; ``CLAIMED_ELSEWHERE_SECONDS`` at most. A claim for someone
        behind them could take the work they waited for (a reply slot, say, that only one
        of them gets)."""
        if not ahead:
            return
        waiting = [pair.split(":", 1) for pair in ahead.split(",")]
        deadline = time.monotonic() + CLAIMED_ELSEWHERE_SECONDS
        while waiting and time.monotonic() < deadline:
            await asyncio.sleep(CLAIMED_ELSEWHERE_POLL_SECONDS)
            pipe = self.redis.pipeline(transaction=False)
            for lang, entry_id in waiting:
                pipe.hget(keys.HELD, entry_id)
                pipe.hget(keys.entry(entry_id), "capacity")
                pipe.zscore(keys.ready(lang), entry_id)
            found = await pipe.execute()
            waiting = [
                pair
                for pair, held, capacity, in_line in zip(
                    waiting, found[0::3], found[1::3], found[2::3], strict=True
                )
                if capacity is not None and in_line is not None and int(held or 0) >= int(capacity)
            ]

    async def serve_returning(
        self, entry_id: str, found: list | None = None, claim: Claim | None = None
    ) -> None:
        """A user whose pushed task was just answered on their own socket, in this process
        (``push_signals.SocketAnswer``: kept out of line as the answer released its place).
        The place goes to whoever waits first in their languages (``keys.RETURNING``): to
        them when nobody else waits; else to the first in line, then once more to the head
        of that line (them, when nobody else waited), so that a line shrinks while there is
        work. An answer then costs its next push a claim and two scripts: no signal to every
        process, no round, and no trip through the channel layer when the socket is here. A
        long line, a claim that finds nothing, or a cap reached: a round (``kick``) serves
        the line as usual. ``found``: RETURNING's answer when the answer's release ran it
        (``keys.RELEASE_RETURNING``, with ``line_args``), else it is asked for here;
        ``claim``: the user's next task when the answer's thread claimed it
        (``claim_returning``)."""
        try:
            if found is None:
                found = await self.returning(
                    keys=[keys.entry(entry_id), keys.HELD],
                    args=[entry_id, *self._head_args(_now_ms())],
                )
            status = found[0].decode()
            if status == "queued":
                for lang in found[1].decode().split(","):
                    self.kick(lang)
            if status in ("gone", "queued"):
                return
            lang, served, entry = found[1].decode(), found[2].decode(), _fields(found[4:])
            await self._claims_ended(found[3].decode())
            if status == "reserved":
                langs = entry["langs"].split(",")
                if await self._claim_reserved(served, entry, langs, claim) == "missed":
                    # Nothing for them now: they wait in line for work, as everyone there
                    # does (a round asked for now serves them if work came in between).
                    await self._rejoin(entry_id)
                    for lang in langs:
                        self.kick(lang)
                return
            if await self._claim_reserved(served, entry, [lang]) != "served":
                self.kick(lang)
                return
            flat = await self.reserve_head(
                keys=[keys.ready(lang), keys.HELD], args=[lang, *self._head_args(_now_ms())]
            )
            if flat:
                head = flat[0].decode()
                await self._claims_ended(flat[1].decode())
                if await self._claim_reserved(head, _fields(flat[2:]), [lang]) != "served":
                    self.kick(lang)
        except Exception:
            if _cancelling():
                raise
            logger.exception("event=push_returning_failed entry=%s", entry_id)
            with contextlib.suppress(Exception):
                await self._rejoin(entry_id)
                self._kick_langs_of(entry_id)

    async def _rejoin(self, entry_id: str) -> None:
        await self.rejoin(keys=[keys.entry(entry_id)], args=[entry_id, *self._head_args(_now_ms())])

    def line_args(self) -> tuple:
        """RETURNING's arguments other than the entry and the time: what an answer's release
        needs to run RETURNING itself (``push_signals.answering_on``)."""
        socket_cap, client_cap, token, _now, looked = self._head_args(0)
        return socket_cap, client_cap, token, looked

    def _head_args(self, now_ms: int) -> list:
        return [
            settings.GROVE_PUSH_MAX_TASKS_PER_SOCKET,
            settings.GROVE_PUSH_MAX_TASKS_PER_CLIENT,
            self.token,
            now_ms,
            RETURNING_LINE_LOOKED_THROUGH,
        ]

    def spawn(self, coroutine) -> None:
        """Run ``coroutine`` as this dispatcher's own task (cancelled when it stops)."""
        task = self._spawn(coroutine)
        self.rounds.add(task)
        task.add_done_callback(self.rounds.discard)

    def _kick_langs_of(self, entry_id: str) -> None:
        async def kick() -> None:
            langs = await self.redis.hget(keys.entry(entry_id), "langs")
            for lang in (langs or b"").decode().split(","):
                if lang:
                    self.kick(lang)

        self.spawn(kick())

    async def _unreserve(self, entry_id: str, entry: dict) -> None:
        await self.unreserve(
            keys=[keys.HELD], args=[entry_id, entry["client"], entry["session"], self.token]
        )

    async def _claim_reserved(
        self, entry_id: str, entry: dict, langs: list[str], claim: Claim | None = None
    ) -> str:
        """Claim a task for the place reserved for ``entry`` in the first of ``langs`` with
        work for them, record it and send it to the entry's socket: "served", "missed"
        (nothing for them: the place goes back) or "skipped" (disabled, or stopped
        waiting). ``claim``: the claim already made (``claim_returning``)."""
        if claim is None:
            claim = await _claim(entry_id, entry, langs)
        if claim.disabled:
            await self._unreserve(entry_id, entry)
            await self._drop_disabled(entry_id, entry, claim.disabled)
            return "skipped"
        if claim.failed:
            await self._unreserve(entry_id, entry)
            return "missed"
        if claim.task_id:
            return await self._record_and_send(entry_id, entry, claim)
        await self._unreserve(entry_id, entry)
        for lang in claim.scarce:
            await self.redis.set(keys.scarce(lang), 1, px=SCARCE_MS)
        return "missed"

    async def _record_and_send(self, entry_id: str, entry: dict, claim: Claim) -> str:
        if claim.record_failed:
            raise RuntimeError(f"task {claim.task_id} claimed for {entry_id} was not recorded")
        recorded = claim.recorded
        if recorded is None:
            recorded = await self.record(
                **_record_args(entry_id, entry, claim, _now_ms(), self.token)
            )
        task_id = claim.task_id
        if not recorded:
            # The user stopped waiting while the claim ran (``unready`` answered meanwhile):
            # the task goes back to the pool instead of to them.
            await self._unreserve(entry_id, entry)
            await _db(return_pushed_task)(task_id=task_id, only_unacked=True, why="unready")
            return "skipped"
        message = {
            "type": PUSH_MESSAGE_TYPE,
            "task": claim.body,
            "user": json.loads(entry["user"]),
            "ack_by": _iso(claim.ack_due),
        }
        logger.info(
            "event=task_pushed task=%s entry=%s lang=%s claim_ms=%.1f via=%s",
            task_id,
            entry_id,
            claim.lang,
            (time.perf_counter() - claim.started) * 1000,
            claim.via,
        )
        await self._send(entry_id, entry, message, task_id)
        return "served"

    async def _send(self, entry_id: str, entry: dict, message: dict, task_id: str) -> None:
        """To the entry's socket: directly when it is one of this process's (the channel
        layer's send and receive were about a tenth of a web process's time under push), else
        through the channel layer."""
        here = self.local.get(entry["session"])
        if here is not None:
            try:
                await here(message)
            except Exception:
                if _cancelling():
                    raise
                # A socket closing as it is sent to: the task is the session's, for its
                # resume or, after the resume window, for the pool (as one lost in transit).
                logger.warning("event=push_local_send_failed task=%s entry=%s", task_id, entry_id)
            return
        try:
            await self.layer.send(entry["channel"], message)
        except ChannelFull:
            # The socket has not read what it was sent: it does not get more.
            logger.warning("event=push_channel_full task=%s entry=%s", task_id, entry_id)
            await _db(return_pushed_task)(task_id=task_id, only_unacked=True, why="channel_full")

    # --- upkeep ---

    async def listen(self) -> None:
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(push_signals.work_channel())
                async for message in pubsub.listen():
                    if message["type"] == "message" and self.sessions:
                        self.kick(message["data"].decode())
            except Exception:
                if _cancelling():
                    raise  # a shutdown: redis-py may turn the cancellation into its own error
                logger.exception("event=push_listen_failed")
                await asyncio.sleep(1)

    async def upkeep(self) -> None:
        while True:
            try:
                await self.heartbeat()
                await self.sweep()
                await self.poll()
            except Exception:
                if _cancelling():
                    raise
                logger.exception("event=push_upkeep_failed")
            await asyncio.sleep(settings.GROVE_PUSH_TICK_SECONDS)

    def _session_due(self) -> int:
        return _now_ms() + _alive_ms() + settings.GROVE_PUSH_RESUME_SECONDS * 1000

    async def heartbeat(self) -> None:
        if not self.sessions:
            return
        pairs = [value for item in list(self.sessions.items()) for value in item]
        await self.beat(
            keys=[keys.ACTIVE, keys.SESSION_DUE], args=[_alive_ms(), self._session_due(), *pairs]
        )

    async def sweep(self) -> None:
        await _db(leases.sweep)()

    async def poll(self) -> None:
        """Rounds for every language with waiting users, at most every GROVE_PUSH_POLL_SECONDS
        across all processes."""
        now = time.monotonic()
        if not self.sessions or now < self.next_poll:
            return
        self.next_poll = now + settings.GROVE_PUSH_POLL_SECONDS
        for raw in await self.redis.smembers(keys.LANGS):
            lang = raw.decode()
            if await self.line_empty(
                keys=[keys.ready(lang), keys.kinds(lang), keys.LANGS], args=[lang]
            ):
                continue
            poll_key = keys.PREFIX + f"poll:{lang}"
            period_ms = int(settings.GROVE_PUSH_POLL_SECONDS * 1000)
            if await self.redis.set(poll_key, 1, nx=True, px=period_ms):
                self.kick(lang)
