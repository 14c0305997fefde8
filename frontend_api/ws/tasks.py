"""``ws/tasks/``: a frontend's live feed of its users' tasks and of its languages' trees.

After the handshake (see ``base``) the frontend sends commands, each answered by one frame:

    {"type": "subscribe", "user": <OA user>}          -> {"type": "subscribed", "user": ...}
    {"type": "unsubscribe", "user": <OA user>}        -> {"type": "unsubscribed", "user": ...}
    {"type": "subscribe_lang", "lang": "en"}          -> {"type": "subscribed_lang", "lang": "en"}
    {"type": "unsubscribe_lang", "lang": "en"}        -> {"type": "unsubscribed_lang", ...}
    {"type": "ping"}                                  -> {"type": "pong"}

Users are resolved within the calling client only (created on first sight, as over REST), so
a socket only ever joins its own client's groups. Grove then pushes:

    {"type": "task_assigned", "task": <the OA task JSON POST /tasks/ returned>, "user": ...}
    {"type": "task_expired", "task_id": ..., "user_id": ..., "user": ...}
    {"type": "message_accepted" | "message_rejected" | "message_ranked", "message_id": ...,
     "message_tree_id": ..., "frontend_message_id": ..., "user_id": ..., "user": ...,
     "rank": ... (ranked only)}
    {"type": "tree_state_changed", "message_tree_id": ..., "from": ..., "to": ..., "reason": ...}

``user`` is the OA user object the socket subscribed with, so one socket can serve many users.

Push dispatch (``ready``, ``unready``, ``resume``: Grove hands tasks out by itself, no polling)
is in ``push`` (the commands) and ``dispatch`` (the line of waiting users and its rounds); the
answers to tasks (``task_ack``, ``task_nack`` and OA's interactions, REST's bodies as frames) in
``answers``. A command may carry a ``request_id`` (a string or an integer): its answer and any
error frame answering it echo it.
"""

from __future__ import annotations

import uuid

from channels.db import database_sync_to_async

from backend import events
from backend.trees.selectors import task_of_client
from frontend_api.v1.auth import ProtocolUserSerializer
from frontend_api.v1.errors import OasstErrorCode
from frontend_api.v1.protocol import render_task
from frontend_api.ws import answers, push
from frontend_api.ws.base import ApiClientConsumer, logger

MAX_USERS_PER_SOCKET = 1000
MAX_LANGS_PER_SOCKET = 100


def rendered_task(task_id: str, api_client_id: uuid.UUID) -> dict | None:
    """The task as ``POST /tasks/`` rendered it for its user; None if it is not this client's."""
    task = task_of_client(uuid.UUID(task_id), api_client_id=api_client_id)
    return render_task(task, viewer=task.user) if task is not None else None


class TaskEventsConsumer(ApiClientConsumer):
    async def on_authenticated(self) -> None:
        self.users: dict[tuple[str, str], str] = {}  # (auth_method, id) -> Grove user id
        self.protocol_users: dict[str, dict] = {}  # Grove user id -> OA user object
        self.langs: set[str] = set()
        self.push_session: str | None = None  # see push.py
        self.ready_users: dict[tuple[str, str], str] = {}  # (auth_method, id) -> user id

    async def disconnect(self, code) -> None:
        await push.detach(self)
        await super().disconnect(code)

    async def push_task(self, message: dict) -> None:
        """A task the dispatcher claimed for one of this socket's ready users."""
        await push.deliver(self, message)

    async def push_dropped(self, message: dict) -> None:
        """One of this socket's ready users left the line without asking (disabled)."""
        await push.dropped(self, message)

    async def on_command(self, content: dict) -> None:
        command = content.get("type")
        if command in ("subscribe", "unsubscribe"):
            user = ProtocolUserSerializer(data=content.get("user"))
            if not user.is_valid():
                await self.send_error(
                    f"{command} needs an OA user object",
                    OasstErrorCode.GENERIC_ERROR,
                    errors=user.errors,
                )
                return
            handler = self.subscribe if command == "subscribe" else self.unsubscribe
            await handler(dict(user.validated_data))
        elif command in ("subscribe_lang", "unsubscribe_lang"):
            lang = content.get("lang")
            if not isinstance(lang, str) or not events.LANG_PATTERN.match(lang):
                await self.send_error(
                    f"{command} needs a language code matching {events.LANG_PATTERN.pattern}",
                    OasstErrorCode.GENERIC_ERROR,
                )
                return
            if command == "subscribe_lang":
                await self.subscribe_lang(lang)
            else:
                await self.leave(events.lang_group(self.client.id, lang))
                self.langs.discard(lang)
                await self.reply({"type": "unsubscribed_lang", "lang": lang})
        elif command in PUSH_COMMANDS:
            await PUSH_COMMANDS[command](self, content)
        else:
            await super().on_command(content)

    async def subscribe(self, protocol_user: dict) -> None:
        key = (protocol_user["auth_method"], protocol_user["id"])
        user = await self.user_within_cap(
            protocol_user, self.users, MAX_USERS_PER_SOCKET, "followed users"
        )
        if user is None:
            return
        self.users[key] = str(user.id)
        self.protocol_users[str(user.id)] = protocol_user
        await self.join(events.user_group(self.client.id, user.id))
        await self.reply({"type": "subscribed", "user": protocol_user})

    async def unsubscribe(self, protocol_user: dict) -> None:
        user_id = self.users.pop((protocol_user["auth_method"], protocol_user["id"]), None)
        if user_id is not None:
            self.protocol_users.pop(user_id, None)
            await self.leave(events.user_group(self.client.id, user_id))
        await self.reply({"type": "unsubscribed", "user": protocol_user})

    async def subscribe_lang(self, lang: str) -> None:
        if lang not in self.langs and len(self.langs) >= MAX_LANGS_PER_SOCKET:
            await self.send_error(
                f"a socket follows at most {MAX_LANGS_PER_SOCKET} languages",
                OasstErrorCode.TOO_MANY_REQUESTS,
            )
            return
        self.langs.add(lang)
        await self.join(events.lang_group(self.client.id, lang))
        await self.reply({"type": "subscribed_lang", "lang": lang})

    async def grove_event(self, message: dict) -> None:
        """A ``backend.events`` push for one of this socket's groups, in the wire shape."""
        event, payload = message["event"], dict(message["payload"])
        if event == "task_assigned":
            task = await database_sync_to_async(rendered_task)(payload["task_id"], self.client.id)
            if task is None:
                logger.warning("event=task_push_dropped task=%s", payload["task_id"])
                return
            frame = {"type": event, "task": task}
        else:
            frame = {"type": event, **payload}
        user = self.protocol_users.get(payload.get("user_id", ""))
        if user is not None:
            frame["user"] = user
        await self.push(frame)


PUSH_COMMANDS = {
    "ready": push.ready,
    "unready": push.unready,
    "resume": push.resume,
    **answers.ANSWER_COMMANDS,
}
