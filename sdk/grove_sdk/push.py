"""The push loop: users say they are ready on ``ws/tasks/`` and Grove pushes their tasks.

    loop = PushLoop(client, [User("ada", "Ada")], langs=["en"])
    for pushed in loop:                    # blocks until Grove pushes a task
        if pushed.answer_kind == "text":
            pushed.reply("...")            # the next task follows by itself
        ...

What the loop does for its caller:

- opens the socket with a single-use ticket (``POST /ws_tickets/``; the key never travels in
  a URL), sends ``ready`` per user and keeps the ``resume_token``;
- acknowledges each pushed task before its ``ack_by`` (with the task id as the frontend's
  ``message_id``), so a task it yields is the caller's to answer;
- when the socket drops (a restart, a network blip, 4008 for a slow reader), reconnects with
  exponential backoff and jitter, sends ``resume`` so the tasks still leased come back instead
  of new ones, then ``ready`` again; 4401/4403 (key or ticket refused) end the loop with
  ``SocketClosed``;
- acks and answers (``PushedTask.reply/rank/label/nack``) go on the socket when Grove says it
  takes them (``socket_answers`` in ``ready_ok``), each frame with a ``request_id`` that its
  answer echoes; else, or with ``socket_answers=False``, over REST. An answer whose socket
  drops is sent again over REST (which refuses a second copy: 2105, task already done).

Frames are read by the websocket library's own thread, so a person taking minutes over a task
does not make the socket a slow reader. A ``PushLoop`` is used from one thread: the one that
iterates it answers its tasks (``AsyncPushLoop`` in ``grove_sdk.aio`` serves many coroutines).
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from grove_sdk import frames
from grove_sdk.client import GroveClient
from grove_sdk.errors import (
    GroveError,
    ServerError,
    SocketClosed,
    TaskAlreadyUpdated,
    TaskExpired,
    TaskNotFound,
    error_from,
)
from grove_sdk.types import Task, User, answer_kind

logger = logging.getLogger("grove_sdk.push")

# Close codes after which reconnecting cannot help: the key or ticket (4401), a client not
# allowed there (4403), a frame Grove refused (1008 policy, 1009 too big).
FATAL_CLOSE_CODES = frozenset({4401, 4403, 1008, 1009})
SETUP_SECONDS = 15.0


def fatal_close(exc: Exception) -> None:
    """Raise ``SocketClosed`` when ``exc`` closed the socket for good (FATAL_CLOSE_CODES, or a
    handshake refused with 401/403): reconnecting cannot help."""
    code = None
    if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
        code = exc.rcvd.code
    if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
        code = 4401
    if code in FATAL_CLOSE_CODES:
        raise SocketClosed(f"Grove closed the push socket ({code})", code) from exc


@dataclass
class PushedTask:
    """A task Grove pushed to one of the loop's users, already acknowledged as ``message_id``.
    Its answers go on the loop's socket when Grove takes them there, else over REST."""

    task: Task
    user: User
    message_id: str
    client: GroveClient
    ack_by: str | None = None
    resumed: bool = False
    loop: PushLoop | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.task["id"]

    @property
    def type(self) -> str:
        return self.task["type"]

    @property
    def answer_kind(self) -> str:
        """ "text", "ranking" or "labels"."""
        return answer_kind(self.task)

    def reply(self, text: str, *, lang: str | None = None) -> dict:
        body = frames.text_reply(
            self.user,
            message_id=self.message_id,
            text=text,
            user_message_id=f"{self.message_id}-text",
            lang=lang,
        )
        return self._send(body)

    def rank(self, ranking: list[int], *, not_rankable: bool = False) -> dict:
        body = frames.ranking(
            self.user, message_id=self.message_id, ranking=ranking, not_rankable=not_rankable
        )
        return self._send(body)

    def label(self, labels: dict[str, float], *, text: str = "") -> dict:
        return self._send(frames.labels(self.user, task=self.task, labels=labels, text=text))

    def nack(self, reason: str | None = None) -> None:
        """Skip the task (the user's skip); the next one follows."""
        self._send(frames.task_nack(self.id, reason, self.user))

    def _send(self, body: dict) -> dict:
        if self.loop is not None:
            return self.loop.send_answer(body)
        return rest_answer(self.client, body)


def rest_answer(client: GroveClient, body: dict) -> dict:
    """An answer frame's body sent over REST instead; the REST answer, or {} for 204s."""
    if body["type"] == "task_ack":
        client.ack_task(body["task_id"], body["message_id"], user=body.get("user"))
        return {}
    if body["type"] == "task_nack":
        client.nack_task(body["task_id"], body.get("reason"), user=body.get("user"))
        return {}
    return client.post_interaction(body)


@dataclass
class Backoff:
    """Seconds to wait before reconnect ``n`` (0-based): doubling from ``first`` up to
    ``most``, each drawn in [half, whole] so that many bots do not come back at once."""

    first: float = 0.5
    most: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        whole = min(self.most, self.first * 2**attempt)
        return self.rng.uniform(whole / 2, whole)


def set_loop_options(
    loop,
    client,
    users: Iterable[User | dict],
    *,
    langs: Iterable[str],
    task_kind: str,
    max_tasks: int,
    idle_seconds: float | None,
    ticket: bool,
    backoff: Backoff | None,
    max_reconnects: int | None,
    socket_answers: bool,
) -> None:
    """The state ``PushLoop`` and ``grove_sdk.aio.AsyncPushLoop`` share: their options, and
    what a loop keeps across reconnects."""
    loop.client = client
    loop.users = [User.of(user) for user in users]
    loop.langs = list(langs)
    loop.task_kind = str(task_kind)
    loop.max_tasks = max_tasks
    loop.idle_seconds = idle_seconds
    loop.ticket = ticket
    loop.backoff = backoff or Backoff()
    loop.max_reconnects = max_reconnects
    loop.socket_answers = socket_answers
    loop.answers_on_socket = False  # Grove's ready_ok said it takes them (and we want it)
    loop.resume_token = None
    loop.reconnects = 0
    loop._request_ids = itertools.count(1)
    loop._acked = set()
    loop._closing = False


class PushLoop:
    """Tasks pushed to ``users`` (OA user objects or ``User``), one ``PushedTask`` at a time.

    ``idle_seconds``: stop iterating when no task came for that long (None: wait for ever).
    ``ticket``: open sockets with a ticket (default) or with the ``X-API-Key`` header.
    ``socket_answers``: ack and answer on the socket when Grove takes them there (default),
    or always over REST.
    """

    def __init__(
        self,
        client: GroveClient,
        users: Iterable[User | dict],
        *,
        langs: Iterable[str] = ("en",),
        task_kind: str = "random",
        max_tasks: int = 1,
        idle_seconds: float | None = None,
        ticket: bool = True,
        backoff: Backoff | None = None,
        max_reconnects: int | None = None,
        socket_answers: bool = True,
    ):
        set_loop_options(
            self,
            client,
            users,
            langs=langs,
            task_kind=task_kind,
            max_tasks=max_tasks,
            idle_seconds=idle_seconds,
            ticket=ticket,
            backoff=backoff,
            max_reconnects=max_reconnects,
            socket_answers=socket_answers,
        )
        self.socket: ClientConnection | None = None
        self._pending: collections.deque[dict] = collections.deque()

    def __iter__(self) -> Iterator[PushedTask]:
        return self.tasks()

    def tasks(self) -> Iterator[PushedTask]:
        attempt = 0
        try:
            while not self._closing:
                try:
                    with self._connect() as self.socket:
                        self._set_up()
                        attempt = 0
                        while True:
                            pushed = self._next_task()
                            if pushed is None:
                                return  # idle_seconds without a task
                            yield pushed
                except (ConnectionClosed, OSError, InvalidStatus, TimeoutError, ServerError) as exc:
                    # ServerError: the ticket call met a restarting Grove (or its proxy's 502).
                    if self._closing:
                        return
                    fatal_close(exc)
                    if self.max_reconnects is not None and self.reconnects >= self.max_reconnects:
                        raise
                    delay = self.backoff.delay(attempt)
                    logger.warning("event=push_reconnect in=%.2fs why=%r", delay, exc)
                    attempt += 1
                    self.reconnects += 1
                    time.sleep(delay)
        finally:
            self.close()

    def close(self) -> None:
        """Close the socket; its users stop waiting (their leased tasks wait for a resume).
        May be called from another thread: the iteration then ends."""
        self._closing = True
        if self.socket is not None:
            self.socket.close()  # thread-safe: a recv under way raises ConnectionClosedOK

    # --- one socket ---

    def _connect(self):
        self._pending.clear()
        if self.ticket:
            url, headers = f"{self.client.ws_url}?ticket={self.client.ws_ticket()}", None
        else:
            url, headers = self.client.ws_url, {"X-API-Key": self.client.api_key}
        # max_queue=None: frames wait in memory while the caller works on a task.
        return connect(
            url, additional_headers=headers, max_queue=None, open_timeout=10, legacy=False
        )

    def _set_up(self) -> None:
        if self.resume_token is not None:
            self._resume()
        for user in self.users:
            command = frames.ready(
                user, langs=self.langs, task_kind=self.task_kind, max_tasks=self.max_tasks
            )
            ready = self._request(command)
            self.resume_token = ready["resume_token"]
            self.answers_on_socket = self.socket_answers and bool(ready.get("socket_answers"))

    def _resume(self) -> None:
        try:
            resumed = self._request({"type": "resume", "resume_token": self.resume_token})
        except GroveError as exc:
            # Expired (the tasks went back to the pool) or still held by a socket Grove has
            # not seen close yet: start a new session; a leased task is not lost either way.
            logger.warning("event=push_resume_refused why=%s", exc.message)
            self.resume_token = None
            return
        logger.info("event=push_resumed tasks=%d", len(resumed["task_ids"]))

    def _request(self, command: dict) -> dict:
        """Send a command with a new ``request_id`` and wait for its answer (an error answer
        raises its ``GroveError``); pushes meanwhile wait in ``_pending``."""
        assert self.socket is not None
        request_id = str(next(self._request_ids))
        self.socket.send(json.dumps({**command, "request_id": request_id}))
        deadline = time.monotonic() + SETUP_SECONDS
        while True:
            frame = json.loads(self.socket.recv(timeout=max(0.0, deadline - time.monotonic())))
            if frame.get("type") == "task_assigned":
                self._pending.append(frame)
            elif frames.is_answer(frame, request_id, command["type"]):
                if frame.get("type") == "error":
                    raise error_from(frame, frame.get("status"), frame.get("retry_after"))
                return frame

    def send_answer(self, body: dict) -> dict:
        """An ack, nack or interaction: on the socket when Grove takes it there, else (or when
        the socket dropped meanwhile) over REST. Grove's answer, without its ``request_id``."""
        if self.answers_on_socket and self.socket is not None:
            try:
                answer = self._request(body)
            except (ConnectionClosed, OSError, TimeoutError) as exc:
                logger.warning("event=push_answer_over_rest why=%r", exc)
            else:
                answer.pop("request_id", None)
                return answer
        return rest_answer(self.client, body)

    def _next_task(self) -> PushedTask | None:
        assert self.socket is not None
        idle_until = None if self.idle_seconds is None else time.monotonic() + self.idle_seconds
        while True:
            if self._pending:
                frame = self._pending.popleft()
            else:
                left = None if idle_until is None else max(0.0, idle_until - time.monotonic())
                try:
                    frame = json.loads(self.socket.recv(timeout=left))
                except TimeoutError:
                    return None
            kind = frame.get("type")
            if kind == "task_assigned" and frame.get("pushed"):
                pushed = self._accept(frame)
                if pushed is not None:
                    return pushed
            elif kind == "not_ready":
                logger.warning("event=push_user_not_ready frame=%s", frame)
                self.users = frames.still_ready(self.users, frame)
            elif kind == "error":
                logger.warning("event=push_error_frame frame=%s", frame)

    def _accept(self, frame: dict[str, Any]) -> PushedTask | None:
        """Acknowledge a pushed task; None when it is no longer ours (its lease ran out)."""
        task = frame["task"]
        user = User.of(frame["user"])
        if task["id"] not in self._acked:
            try:
                self.send_answer(frames.task_ack(task["id"], task["id"], user))
            except TaskAlreadyUpdated:
                pass  # acked before a reconnect: a resumed task
            except (TaskNotFound, TaskExpired) as exc:
                logger.warning("event=push_task_gone task=%s why=%s", task["id"], exc)
                return None
            self._acked.add(task["id"])
        return PushedTask(
            task=task,
            user=user,
            message_id=task["id"],
            client=self.client,
            ack_by=frame.get("ack_by"),
            resumed=bool(frame.get("resumed")),
            loop=self,
        )
