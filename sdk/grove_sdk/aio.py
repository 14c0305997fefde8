"""asyncio: ``AsyncGroveClient`` (OA's REST task calls as coroutines) and ``AsyncPushLoop``.

    async with AsyncGroveClient("http://127.0.0.1:8080", api_key) as client:
        loop = AsyncPushLoop(client, [User("ada", "Ada")])
        async for pushed in loop:
            await pushed.reply("...")       # on the socket; the next task follows by itself

The push loop does what ``PushLoop`` does (tickets, ``ready``, acks before ``ack_by``,
reconnect with backoff and ``resume``, fatal close codes), with one reader task per socket:
pushes wait in a queue, and each command's answer is matched to it by its ``request_id``, so
any number of coroutines may answer tasks at once (spawn one per task to work on several).
REST calls run a blocking ``GroveClient`` in a thread (the standard library has no asyncio
HTTP client), up to ``connections`` at once, each connection kept alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from grove_sdk import frames
from grove_sdk.client import GroveClient
from grove_sdk.errors import (
    GroveError,
    ServerError,
    TaskAlreadyUpdated,
    TaskExpired,
    TaskNotFound,
    error_from,
)
from grove_sdk.push import SETUP_SECONDS, Backoff, fatal_close, set_loop_options
from grove_sdk.types import Task, User, answer_kind

logger = logging.getLogger("grove_sdk.aio")
ANSWER_SECONDS = 30.0


P = ParamSpec("P")
R = TypeVar("R")


def _awaited(
    call: Callable[Concatenate[GroveClient, P], R],
) -> Callable[Concatenate[AsyncGroveClient, P], Coroutine[Any, Any, R]]:
    """``GroveClient``'s ``call`` as a coroutine method of ``AsyncGroveClient``: run in a thread
    on one of its pooled clients (``_call``), with the same signature and docstring."""

    async def awaited(self: AsyncGroveClient, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._call(call.__name__, *args, **kwargs)

    return functools.wraps(call)(awaited)


class AsyncGroveClient:
    """``GroveClient``'s calls, awaited. Use it as ``async with``, or ``await close()``."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0, connections: int = 4):
        self._model = GroveClient(url, api_key, timeout=timeout)  # checks the URL
        self.url, self.api_key, self.timeout = self._model.url, api_key, timeout
        self._idle: list[GroveClient] = [self._model]
        self._slots = asyncio.Semaphore(connections)

    @property
    def ws_url(self) -> str:
        return self._model.ws_url

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        async with self._slots:
            client = (
                self._idle.pop()
                if self._idle
                else GroveClient(self.url, self.api_key, timeout=self.timeout)
            )
            try:
                result = await asyncio.to_thread(getattr(client, name), *args, **kwargs)
            except asyncio.CancelledError:
                raise  # its thread may still use the connection: it is not reused
            except BaseException:
                self._idle.append(client)
                raise
            self._idle.append(client)
            return result

    # OA's task calls: each is ``GroveClient``'s, with its signature and docstring, awaited.
    fetch_task = _awaited(GroveClient.fetch_task)
    ack_task = _awaited(GroveClient.ack_task)
    nack_task = _awaited(GroveClient.nack_task)
    post_interaction = _awaited(GroveClient.post_interaction)
    reply = _awaited(GroveClient.reply)
    rank = _awaited(GroveClient.rank)
    label = _awaited(GroveClient.label)
    task_availability = _awaited(GroveClient.task_availability)
    ws_ticket = _awaited(GroveClient.ws_ticket)

    async def close(self) -> None:
        for client in self._idle:
            client.close()

    async def __aenter__(self) -> AsyncGroveClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def rest_answer(client: AsyncGroveClient, body: dict) -> dict:
    """An answer frame's body sent over REST instead; the REST answer, or {} for 204s."""
    if body["type"] == "task_ack":
        await client.ack_task(body["task_id"], body["message_id"], user=body.get("user"))
        return {}
    if body["type"] == "task_nack":
        await client.nack_task(body["task_id"], body.get("reason"), user=body.get("user"))
        return {}
    return await client.post_interaction(body)


@dataclass
class AsyncPushedTask:
    """``PushedTask`` for ``AsyncPushLoop``: its answers are coroutines."""

    task: Task
    user: User
    message_id: str
    loop: AsyncPushLoop = field(repr=False)
    ack_by: str | None = None
    resumed: bool = False

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

    async def reply(self, text: str, *, lang: str | None = None) -> dict:
        body = frames.text_reply(
            self.user,
            message_id=self.message_id,
            text=text,
            user_message_id=f"{self.message_id}-text",
            lang=lang,
        )
        return await self.loop.send_answer(body)

    async def rank(self, ranking: list[int], *, not_rankable: bool = False) -> dict:
        body = frames.ranking(
            self.user, message_id=self.message_id, ranking=ranking, not_rankable=not_rankable
        )
        return await self.loop.send_answer(body)

    async def label(self, labels: dict[str, float], *, text: str = "") -> dict:
        body = frames.labels(self.user, task=self.task, labels=labels, text=text)
        return await self.loop.send_answer(body)

    async def nack(self, reason: str | None = None) -> None:
        """Skip the task (the user's skip); the next one follows."""
        await self.loop.send_answer(frames.task_nack(self.id, reason, self.user))


class _Closed:
    """Put in a socket's push queue when its reader ended: the loop reconnects."""

    def __init__(self, error: BaseException):
        self.error = error


class AsyncPushLoop:
    """Tasks pushed to ``users``, one ``AsyncPushedTask`` at a time (``async for``); the
    arguments are ``PushLoop``'s."""

    def __init__(
        self,
        client: AsyncGroveClient,
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
        self._pushes: asyncio.Queue[dict | _Closed] = asyncio.Queue()
        self._waiting: dict[str, tuple[str, asyncio.Future]] = {}

    def __aiter__(self) -> AsyncIterator[AsyncPushedTask]:
        return self.tasks()

    async def tasks(self) -> AsyncIterator[AsyncPushedTask]:
        attempt = 0
        try:
            while not self._closing:
                try:
                    async with await self._connect() as self.socket:
                        reader = asyncio.create_task(self._read(self.socket))
                        try:
                            await self._set_up()
                            attempt = 0
                            while True:
                                pushed = await self._next_task()
                                if pushed is None:
                                    return  # idle_seconds without a task
                                yield pushed
                        finally:
                            reader.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await reader
                except (ConnectionClosed, OSError, InvalidStatus, TimeoutError, ServerError) as exc:
                    if self._closing:
                        return
                    fatal_close(exc)
                    if self.max_reconnects is not None and self.reconnects >= self.max_reconnects:
                        raise
                    delay = self.backoff.delay(attempt)
                    logger.warning("event=push_reconnect in=%.2fs why=%r", delay, exc)
                    attempt += 1
                    self.reconnects += 1
                    await asyncio.sleep(delay)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the socket; its users stop waiting (their leased tasks wait for a resume)."""
        self._closing = True
        if self.socket is not None:
            await self.socket.close()

    # --- one socket ---

    async def _connect(self):
        self._pushes = asyncio.Queue()
        if self.ticket:
            url, headers = f"{self.client.ws_url}?ticket={await self.client.ws_ticket()}", None
        else:
            url, headers = self.client.ws_url, {"X-API-Key": self.client.api_key}
        # max_queue=None: frames wait in memory while the caller works on a task.
        return connect(url, additional_headers=headers, max_queue=None, open_timeout=10)

    async def _read(self, socket: ClientConnection) -> None:
        """Every frame of the socket: pushes to the queue, answers to their commands."""
        try:
            async for raw in socket:
                frame = json.loads(raw)
                if frame.get("type") == "task_assigned":
                    self._pushes.put_nowait(frame)
                    continue
                if frame.get("type") == "not_ready":
                    logger.warning("event=push_user_not_ready frame=%s", frame)
                    self.users = frames.still_ready(self.users, frame)
                    continue
                for request_id, (command, future) in self._waiting.items():
                    if not future.done() and frames.is_answer(frame, request_id, command):
                        future.set_result(frame)
                        break
                else:
                    if frame.get("type") == "error":
                        logger.warning("event=push_error_frame frame=%s", frame)
            await socket.recv()  # raises the close (async for ends on it quietly)
        except ConnectionClosed as exc:
            closed: BaseException = exc
        except Exception as exc:
            closed = exc
            logger.exception("event=push_reader_failed")
        for _command, future in self._waiting.values():
            if not future.done():
                future.set_exception(closed)
        self._pushes.put_nowait(_Closed(closed))

    async def _request(self, command: dict, timeout: float = SETUP_SECONDS) -> dict:
        """Send a command with a new ``request_id``; its answer (an error raises)."""
        assert self.socket is not None
        request_id = str(next(self._request_ids))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (command["type"], future)
        try:
            await self.socket.send(json.dumps({**command, "request_id": request_id}))
            frame = await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(request_id, None)
        if frame.get("type") == "error":
            raise error_from(frame, frame.get("status"), frame.get("retry_after"))
        return frame

    async def _set_up(self) -> None:
        if self.resume_token is not None:
            try:
                resumed = await self._request({"type": "resume", "resume_token": self.resume_token})
                logger.info("event=push_resumed tasks=%d", len(resumed["task_ids"]))
            except GroveError as exc:
                logger.warning("event=push_resume_refused why=%s", exc.message)
                self.resume_token = None
        for user in self.users:
            command = frames.ready(
                user, langs=self.langs, task_kind=self.task_kind, max_tasks=self.max_tasks
            )
            ready = await self._request(command)
            self.resume_token = ready["resume_token"]
            self.answers_on_socket = self.socket_answers and bool(ready.get("socket_answers"))

    async def send_answer(self, body: dict) -> dict:
        """An ack, nack or interaction: on the socket when Grove takes it there, else (or when
        the socket dropped meanwhile) over REST. Grove's answer, without its ``request_id``."""
        if self.answers_on_socket and self.socket is not None:
            try:
                answer = await self._request(body, ANSWER_SECONDS)
            except (ConnectionClosed, OSError, TimeoutError) as exc:
                logger.warning("event=push_answer_over_rest why=%r", exc)
            else:
                answer.pop("request_id", None)
                return answer
        return await rest_answer(self.client, body)

    async def _next_task(self) -> AsyncPushedTask | None:
        while True:
            try:
                frame = await asyncio.wait_for(self._pushes.get(), self.idle_seconds)
            except TimeoutError:
                return None
            if isinstance(frame, _Closed):
                raise frame.error
            if frame.get("pushed"):
                pushed = await self._accept(frame)
                if pushed is not None:
                    return pushed

    async def _accept(self, frame: dict[str, Any]) -> AsyncPushedTask | None:
        """Acknowledge a pushed task; None when it is no longer ours (its lease ran out)."""
        task, user = frame["task"], User.of(frame["user"])
        if task["id"] not in self._acked:
            try:
                await self.send_answer(frames.task_ack(task["id"], task["id"], user))
            except TaskAlreadyUpdated:
                pass  # acked before a reconnect: a resumed task
            except (TaskNotFound, TaskExpired) as exc:
                logger.warning("event=push_task_gone task=%s why=%s", task["id"], exc)
                return None
            self._acked.add(task["id"])
        return AsyncPushedTask(
            task=task,
            user=user,
            message_id=task["id"],
            loop=self,
            ack_by=frame.get("ack_by"),
            resumed=bool(frame.get("resumed")),
        )
