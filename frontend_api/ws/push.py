"""``ws/tasks/`` push commands: ``ready``, ``unready``, ``resume``, and the pushed frames.

    {"type": "ready", "user": <OA user>, "langs": ["en"], "task_kind": "random", "max_tasks": 1}
        -> {"type": "ready_ok", "user": ..., "langs": ..., "task_kind": ..., "max_tasks": ...,
            "resume_token": "...", "socket_answers": true}
    {"type": "unready", "user": <OA user>}  -> {"type": "unready_ok", "user": ...}
    {"type": "resume", "resume_token": "..."}
        -> {"type": "resumed", "resume_token": ..., "task_ids": [...]}, then each still-open task
           again as task_assigned with "resumed": true

Grove then pushes ``{"type": "task_assigned", "task": <AnyTask as POST /tasks/>, "user": ...,
"pushed": true, "ack_by": "<ISO time>"}`` whenever it has a task for a ready user
(``dispatch``). The frontend acknowledges and answers it on this socket (``answers``:
``task_ack``, ``task_nack``, the interaction frames) or over REST, as any task; once answered
(or skipped), the next one follows while the user stays ready.
A user disabled or deleted while waiting leaves the line; the socket gets
``{"type": "not_ready", "user": ..., "reason": "user_disabled", "error_code": 4001,
"message": ...}`` and nothing more for that user.

A socket gets one push session at its first ``ready``; its ``resume_token`` lets a new socket
take the session over within GROVE_PUSH_RESUME_SECONDS of the old one closing, with its tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings
from rest_framework import serializers

from backend import events
from backend.trees.core.policy import TaskKind
from backend.trees.selectors import task_of_client
from frontend_api.v1.auth import ProtocolUserSerializer
from frontend_api.v1.errors import OasstErrorCode
from frontend_api.v1.protocol import render_task
from frontend_api.ws import dispatch

logger = logging.getLogger("grove.push")

MAX_READY_USERS_PER_SOCKET = 1000
MAX_LANGS_PER_READY = 8
CLOSE_SLOW_CONSUMER = 4008  # the socket did not take a frame within GROVE_WS_SEND_TIMEOUT_SECONDS


class ReadyCommand(serializers.Serializer):
    user = ProtocolUserSerializer()
    langs = serializers.ListField(
        child=serializers.RegexField(events.LANG_PATTERN),
        min_length=1,
        max_length=MAX_LANGS_PER_READY,
        default=["en"],
    )
    task_kind = serializers.ChoiceField(
        choices=[kind.value for kind in TaskKind], default=TaskKind.RANDOM.value
    )
    max_tasks = serializers.IntegerField(min_value=1, default=1)

    def validate_max_tasks(self, value: int) -> int:
        limit = settings.GROVE_PUSH_MAX_TASKS_PER_USER
        if value > limit:
            raise serializers.ValidationError(f"at most {limit} (GROVE_PUSH_MAX_TASKS_PER_USER)")
        return value


class UnreadyCommand(serializers.Serializer):
    user = ProtocolUserSerializer()


class ResumeCommand(serializers.Serializer):
    resume_token = serializers.CharField(max_length=128)


async def _valid(consumer, serializer_class, content: dict, command: str) -> dict | None:
    serializer = serializer_class(data={k: v for k, v in content.items() if k != "type"})
    if serializer.is_valid():
        return dict(serializer.validated_data)
    await consumer.send_error(
        f"invalid {command} command", OasstErrorCode.GENERIC_ERROR, errors=serializer.errors
    )
    return None


async def _enabled(consumer) -> bool:
    if dispatch.is_enabled():
        return True
    await consumer.send_error(
        "push dispatch needs Redis (GROVE_PUSH_REDIS_URL or REDIS_URL); request tasks over REST",
        OasstErrorCode.SERVER_ERROR1,
    )
    return False


async def _session(consumer) -> str:
    if consumer.push_session is None:
        token, session = dispatch.new_resume_token()
        await dispatch.dispatcher().attach(
            session,
            channel=consumer.channel_name,
            client_id=str(consumer.client.id),
            send=_sender(consumer),
        )
        consumer.push_session, consumer.resume_token = session, token
    return consumer.push_session


async def ready(consumer, content: dict) -> None:
    if not await _enabled(consumer):
        return
    command = await _valid(consumer, ReadyCommand, content, "ready")
    if command is None:
        return
    protocol_user = dict(command["user"])
    user = await consumer.user_within_cap(
        protocol_user, consumer.ready_users, MAX_READY_USERS_PER_SOCKET, "ready users"
    )
    if user is None:
        return
    key = (protocol_user["auth_method"], protocol_user["id"])
    session = await _session(consumer)
    langs = list(dict.fromkeys(command["langs"]))
    refused = await dispatch.dispatcher().ready(
        session,
        client_id=str(consumer.client.id),
        user_id=str(user.id),
        user=protocol_user,
        langs=langs,
        kind=command["task_kind"],
        max_tasks=command["max_tasks"],
    )
    if refused:
        await consumer.send_error(refused, OasstErrorCode.TOO_MANY_REQUESTS)
        return
    consumer.ready_users[key] = str(user.id)
    await consumer.reply(
        {
            "type": "ready_ok",
            "user": protocol_user,
            "langs": langs,
            "task_kind": command["task_kind"],
            "max_tasks": command["max_tasks"],
            "resume_token": consumer.resume_token,
            # Tasks may be acked and answered on this socket (``answers``): clients that
            # also speak to older Groves answer over REST when this is missing.
            "socket_answers": True,
        }
    )


async def unready(consumer, content: dict) -> None:
    command = await _valid(consumer, UnreadyCommand, content, "unready")
    if command is None:
        return
    protocol_user = dict(command["user"])
    user_id = consumer.ready_users.pop((protocol_user["auth_method"], protocol_user["id"]), None)
    if user_id is not None:
        await dispatch.dispatcher().unready(consumer.push_session, user_id)
    await consumer.reply({"type": "unready_ok", "user": protocol_user})


async def resume(consumer, content: dict) -> None:
    if not await _enabled(consumer):
        return
    command = await _valid(consumer, ResumeCommand, content, "resume")
    if command is None:
        return
    if consumer.push_session is not None:
        await consumer.send_error(
            "resume comes first on a socket, before any ready", OasstErrorCode.GENERIC_ERROR
        )
        return
    token = command["resume_token"]
    session = dispatch.session_of_token(token)
    d = dispatch.dispatcher()
    owner, alive = await d.owner_of(session)
    if owner != str(consumer.client.id):
        await consumer.send_error(
            "unknown or expired resume token: its tasks went back to the pool; send ready",
            OasstErrorCode.GENERIC_ERROR,
        )
        return
    if alive:
        await consumer.send_error(
            "this session is open on another socket; close it first",
            OasstErrorCode.GENERIC_ERROR,
        )
        return
    await d.attach(session, channel=consumer.channel_name, client_id=owner, send=_sender(consumer))
    consumer.push_session, consumer.resume_token = session, token
    frames = []
    for task_id, user, ack_due in await d.session_tasks(session):
        task = await database_sync_to_async(open_task_json)(task_id, consumer.client.id)
        if task is None:
            continue
        frame = {"type": "task_assigned", "task": task, "user": user, "pushed": True}
        if ack_due is not None:
            frame["ack_by"] = dispatch._iso(ack_due)
        frames.append({**frame, "resumed": True})
    await consumer.reply(
        {
            "type": "resumed",
            "resume_token": token,
            "task_ids": [frame["task"]["id"] for frame in frames],
        }
    )
    for frame in frames:
        await send_or_close(consumer, frame)


def open_task_json(task_id: str, api_client_id) -> dict | None:
    """A pushed task as REST rendered it, while it is still open; None once it is closed."""
    task = task_of_client(task_id, api_client_id=api_client_id)
    if task is None or task.done or task.skipped:
        return None
    return render_task(task, viewer=task.user)


async def deliver(consumer, message: dict) -> None:
    frame = {
        "type": "task_assigned",
        "task": message["task"],
        "user": message["user"],
        "pushed": True,
        "ack_by": message["ack_by"],
    }
    await send_or_close(consumer, frame)


def serve_next(entry_id: str, found: list | None = None) -> None:
    """The user of ``entry_id`` answered their pushed task on this socket: the place it freed
    is served from here (``Dispatcher.serve_returning``), in a task of its own: the socket's
    next frames (its other users' answers) do not wait for the claim. ``found``: what the
    answer's release already reserved (``keys.RELEASE_RETURNING``)."""
    d = dispatch.dispatcher()
    d.spawn(d.serve_returning(entry_id, found))


def _sender(consumer):
    """How the dispatcher hands this socket a push when it runs in this process."""

    async def send(message: dict) -> None:
        with contextlib.suppress(StopConsumer):  # a slow reader: closed, its tasks kept
            await deliver(consumer, message)

    return send


async def dropped(consumer, message: dict) -> None:
    """The dispatcher took one of this socket's users out of the line (disabled or deleted
    while they waited): the socket hears it in a ``not_ready`` frame with the code and message
    REST answers that user's requests with (not an ``error`` frame: a client that matches
    answers without ``request_id`` would take it for the answer to a command in flight), and
    the user no longer counts as ready here."""
    protocol_user = message["user"]
    consumer.ready_users.pop((protocol_user["auth_method"], protocol_user["id"]), None)
    frame = {
        "type": "not_ready",
        "user": protocol_user,
        "reason": "user_disabled",
        "error_code": int(OasstErrorCode.USER_DISABLED),
        "message": message["why"],
    }
    await send_or_close(consumer, frame)


async def send_or_close(consumer, frame: dict) -> None:
    """Send, or close a socket that does not take the frame in time (a slow reader: the
    server's buffer for it is full) with 4008; its tasks then wait for a resume."""
    try:
        # asyncio.timeout, not wait_for: no task of its own per frame (Python 3.11).
        async with asyncio.timeout(settings.GROVE_WS_SEND_TIMEOUT_SECONDS):
            await consumer.push(frame)
    except TimeoutError:
        logger.warning("event=slow_consumer_closed session=%s", consumer.push_session)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(consumer.close(code=CLOSE_SLOW_CONSUMER), 1)
        await consumer.disconnect(CLOSE_SLOW_CONSUMER)
        raise StopConsumer() from None


async def detach(consumer) -> None:
    session = getattr(consumer, "push_session", None)
    if session is not None:
        consumer.push_session = None
        await dispatch.dispatcher().detach(session)
