"""``ws/tasks/`` answers: a task's ack, nack and interaction as frames, through REST's door.

    {"type": "task_ack", "request_id": "r1", "task_id": "<uuid>", "message_id": "fe-1"}
        -> {"type": "task_acked", "request_id": "r1", "task_id": ...}
    {"type": "task_nack", "request_id": "r2", "task_id": "<uuid>", "reason": "..."}
        -> {"type": "task_nacked", "request_id": "r2", "task_id": ...}
    {"type": "text_reply_to_message" | "message_ranking" | "text_labels" | "message_rating",
     "request_id": "r3", ...the body of POST /tasks/interaction...}
        -> {"type": "task_done", "request_id": "r3", "id": ...}  (REST's TaskDone)

Each frame is the REST call's body plus ``request_id`` (a client's string or integer, echoed
in the answer and in an error frame answering it); ack and nack name the task in ``task_id``
(REST's path) and may name the acting user as an OA user object in ``user`` (REST's
X-OASST-USER: an existing user of this client). They run the very functions REST's views run
(``frontend_api.v1.tasks.ack``, ``nack``, ``interact``: the same serializers, services and
transactions), count against the same throttle budgets, and a refusal comes back as REST's
body in an error frame: ``{"type": "error", "request_id": ..., "message": ..., "error_code":
..., "status": <REST's HTTP status>}`` (``errors`` on a validation error, ``retry_after`` on
a 429). A refused frame changes nothing. An answered or skipped pushed task frees its user's
place: the next task is pushed while the user stays ready.

Frames of one socket are answered in the order they came (an ack before the interaction that
follows it); the database work runs on ``ANSWER_THREADS`` threads of its own per process, so
that answers on many sockets overlap as REST requests do.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from rest_framework import exceptions as drf
from rest_framework import serializers

from backend.push import signals as push_signals
from backend.thread_hop import in_thread
from frontend_api.v1 import tasks as rest_tasks
from frontend_api.v1.auth import USER_HEADER, ProtocolUserSerializer, existing_user
from frontend_api.v1.errors import describe_error
from frontend_api.v1.input_serializer import InputSerializer
from frontend_api.v1.throttling import ProtocolRateThrottle
from frontend_api.ws import dispatch, push

# OA's AnyInteraction types: Grove takes three; message_rating gets REST's 1003 (as REST).
INTERACTION_TYPES = ("text_reply_to_message", "message_rating", "message_ranking", "text_labels")
ANSWER_THREADS = 8

_answer_threads = ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="ws-answer")


class TaskCommand(InputSerializer):
    """What a socket's ack and nack carry beside REST's body: the path's task id and the
    X-OASST-USER header's user."""

    task_id = serializers.UUIDField()
    user = ProtocolUserSerializer(required=False)


def _body(content: dict) -> dict:
    return {k: v for k, v in content.items() if k != "request_id"}


def _throttle(client, body: dict, acting_user_field: str | None, user: dict | None) -> None:
    """REST's throttle (``ProtocolRateThrottle``) on the budgets the REST call would spend."""
    header = f"{user['auth_method']}:{user['id']}" if user else ""
    request = SimpleNamespace(auth=client, method="POST", data=body, META={USER_HEADER: header})
    throttle = ProtocolRateThrottle()
    view = SimpleNamespace(acting_user_field=acting_user_field)
    if not throttle.allow_request(request, view):
        raise drf.Throttled(wait=throttle.wait())


def run_task_command(client, command: str, content: dict) -> dict:
    """``task_ack`` or ``task_nack``: REST's ack or nack; the answer frame."""
    body = _body(content)
    head = TaskCommand.validated({k: body[k] for k in ("task_id", "user") if k in body})
    user = dict(head["user"]) if "user" in head else None
    _throttle(client, body, None, user)
    task_id: uuid.UUID = head["task_id"]
    rest_body = {k: v for k, v in body.items() if k not in ("type", "task_id", "user")}
    if command == "task_ack":
        named = (user["auth_method"], user["id"]) if user else None
        rest_tasks.ack(client, task_id, rest_body, named)
        return {"type": "task_acked", "task_id": str(task_id)}
    acting = existing_user(client, user["auth_method"], user["id"]) if user else None
    rest_tasks.nack(client, task_id, rest_body, acting)
    return {"type": "task_nacked", "task_id": str(task_id)}


def run_interaction(client, content: dict) -> dict:
    """An interaction frame: REST's ``POST /tasks/interaction``; its TaskDone."""
    body = _body(content)
    _throttle(client, body, "user", None)
    return rest_tasks.interact(client, body)


def _answer(
    client,
    command: str,
    content: dict,
    session: str | None,
    line_args: tuple = (),
    claim_next: bool = False,
) -> tuple[dict | None, dict | None, list[tuple[str, list | None, dispatch.Claim | None]]]:
    """(answer frame, None) or (None, error frame) for one answer command (in a thread), and
    the ready users of push ``session`` whose pushed task it closed (to be served next), with
    their next task when ``claim_next`` (``dispatch.claim_returning``)."""
    with push_signals.answering_on(session, line_args) as answering:
        try:
            if command in INTERACTION_TYPES:
                answered = run_interaction(client, content)
            else:
                answered = run_task_command(client, command, content)
        except Exception as exc:
            described = describe_error(exc, f"ws:{command}")
            frame = {"type": "error", **described.body, "status": described.status}
            if described.retry_after is not None:
                frame["retry_after"] = described.retry_after
            answered, error = None, frame
        else:
            error = None
    returning = answering.returning if answering is not None else []
    token = line_args[2] if claim_next else ""  # the dispatcher's, for RECORD
    served = [
        (entry_id, found, dispatch.claim_returning(entry_id, found, token) if token else None)
        for entry_id, found in returning
    ]
    return answered, error, served


async def answer(consumer, content: dict) -> None:
    command = content["type"]
    session = consumer.push_session
    # The dispatcher's line arguments: the answer's release also reserves the place it frees
    # (one Redis call for both, keys.RELEASE_RETURNING).
    line_args = dispatch.dispatcher().line_args() if session is not None else ()
    # A socket of one ready user: the answer's thread claims their next task as well (nothing
    # else of the socket's waits behind it). A bot's socket of many users has each next task
    # claimed apart, so that its other users' answers do not wait for the claims.
    claim_next = session is not None and len(consumer.ready_users) == 1
    answered, error, returning = await in_thread(
        _answer_threads,
        _answer,
        consumer.client,
        command,
        content,
        session,
        line_args,
        claim_next,
    )
    frame = answered if answered is not None else error
    try:
        await consumer.reply(frame)
    finally:  # a place reserved by the release is served (or given back) whatever the reply
        for entry_id, found, claim in returning:
            if claim is not None:  # claimed and recorded: only its frame is left to send
                await dispatch.dispatcher().serve_returning(entry_id, found, claim)
            else:
                push.serve_next(entry_id, found)


ANSWER_COMMANDS = {
    "task_ack": answer,
    "task_nack": answer,
    **dict.fromkeys(INTERACTION_TYPES, answer),
}
