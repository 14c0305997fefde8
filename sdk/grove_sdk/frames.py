"""The bodies the SDK sends: OA's interactions (``POST /tasks/interaction``, or the same body as
a ``ws/tasks/`` frame) and the push socket's commands. One builder per shape, for the REST
client, the blocking push loop and the asyncio one alike."""

from __future__ import annotations

from typing import Any

from grove_sdk.types import Task, User


def text_reply(
    user: User | dict,
    *,
    message_id: str,
    text: str,
    user_message_id: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """The text answering the reply task acked as ``message_id``."""
    body = {
        "type": "text_reply_to_message",
        "user": User.of(user).wire(),
        "message_id": message_id,
        "user_message_id": user_message_id or f"{message_id}-text",
        "text": text,
    }
    if lang is not None:
        body["lang"] = lang
    return body


def ranking(
    user: User | dict, *, message_id: str, ranking: list[int], not_rankable: bool = False
) -> dict[str, Any]:
    """Indices into the ranking task's ``replies``, best first, each once."""
    return {
        "type": "message_ranking",
        "user": User.of(user).wire(),
        "message_id": message_id,
        "ranking": ranking,
        "not_rankable": not_rankable,
    }


def labels(
    user: User | dict, *, task: Task, labels: dict[str, float], text: str = ""
) -> dict[str, Any]:
    """The review of a ``label_*`` task: a value in [0, 1] per label."""
    return {
        "type": "text_labels",
        "user": User.of(user).wire(),
        "message_id": task["message_id"],
        "task_id": task["id"],
        "text": text,
        "labels": labels,
    }


def ready(user: User, *, langs: list[str], task_kind: str, max_tasks: int) -> dict[str, Any]:
    return {
        "type": "ready",
        "user": user.wire(),
        "langs": langs,
        "task_kind": task_kind,
        "max_tasks": max_tasks,
    }


def task_ack(task_id: str, message_id: str, user: User | None) -> dict[str, Any]:
    frame = {"type": "task_ack", "task_id": task_id, "message_id": message_id}
    if user is not None:
        frame["user"] = user.wire()
    return frame


def task_nack(task_id: str, reason: str | None, user: User | None) -> dict[str, Any]:
    frame = {"type": "task_nack", "task_id": task_id, "reason": reason}
    if user is not None:
        frame["user"] = user.wire()
    return frame


# The answer frame each command gets on success (errors come as ``{"type": "error"}``).
ANSWER_OF = {
    "ready": "ready_ok",
    "resume": "resumed",
    "task_ack": "task_acked",
    "task_nack": "task_nacked",
    "text_reply_to_message": "task_done",
    "message_ranking": "task_done",
    "text_labels": "task_done",
}


def is_answer(frame: dict, request_id: str, command: str) -> bool:
    """Whether ``frame`` answers the command sent with ``request_id`` (a Grove that echoes
    no request_id: the first answer of its type, or the first error)."""
    if frame.get("request_id") is not None:
        return frame["request_id"] == request_id
    return frame.get("type") in (ANSWER_OF[command], "error")


def still_ready(users: list, frame: dict) -> list:
    """``users`` without the one a ``not_ready`` frame names (Grove took them out of the line:
    disabled while waiting), so that a reconnect does not say they are ready again."""
    gone = frame.get("user") or {}
    key = (gone.get("auth_method"), gone.get("id"))
    return [user for user in users if (user.auth_method, user.id) != key]
