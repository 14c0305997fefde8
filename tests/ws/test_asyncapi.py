"""The AsyncAPI document describes every frame Grove's websockets send.

Every socket of the websocket tests records what the server sent it (``communicator``); the
check below runs after them (``conftest`` orders it last) and validates each frame against the
message schemas of its channel, and each close code against the channel's documented ones. Run
alone, it drives the three sockets through their commands and refusals itself first.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from frontend_api.ws.document import asyncapi_document
from tests.api.conftest import protocol_user
from tests.ws.communicator import SERVER_OUTPUT
from tests.ws.conftest import TIMEOUT, new_frontend, receive_event, send, ws_db

DOCUMENT_URI = "urn:grove:asyncapi"


def channel_for(document: dict, path: str) -> dict:
    channels = [c for c in document["channels"].values() if c["address"] == path]
    assert len(channels) == 1, f"no channel (or several) for {path}"
    return channels[0]


def message_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def frame_types(message: dict) -> set[str]:
    schema = message["payload"]["properties"]["type"]
    return {schema["const"]} if "const" in schema else set(schema["enum"])


def frame_problems(document: dict, path: str, frame: dict) -> list[str]:
    """Why ``frame`` matches none of the messages of ``path``'s channel (empty: it matches)."""
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource(contents=document, specification=DRAFT7)
    )
    channel = channel_for(document, path)
    names = [message_name(ref["$ref"]) for ref in channel["messages"].values()]
    candidates = [
        n for n in names if frame.get("type") in frame_types(document["components"]["messages"][n])
    ]
    if not candidates:
        return [f"{path}: no message of type {frame.get('type')!r} in the document: {frame}"]
    problems = []
    for name in candidates:
        pointer = {"$ref": f"{DOCUMENT_URI}#/components/messages/{name}/payload"}
        errors = [e.message for e in Draft7Validator(pointer, registry=registry).iter_errors(frame)]
        if not errors:
            return []
        problems.append(f"{path}: {frame} is not a valid {name}: {'; '.join(errors)}")
    return problems


def test_every_message_payload_is_a_valid_json_schema():
    for name, message in asyncapi_document()["components"]["messages"].items():
        Draft7Validator.check_schema(message["payload"])
        assert frame_types(message), name


def test_every_operation_and_channel_message_refers_to_a_documented_message():
    document = asyncapi_document()
    messages = document["components"]["messages"]
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            assert message_name(ref["$ref"]) in messages, ref
    for name, operation in document["operations"].items():
        channel_name = message_name(operation["channel"]["$ref"])
        for ref in operation["messages"]:
            assert ref["$ref"].startswith(f"#/channels/{channel_name}/messages/"), name
            assert message_name(ref["$ref"]) in document["channels"][channel_name]["messages"]


@pytest.mark.django_db
def test_the_document_is_served_next_to_the_openapi(client):
    response = client.get("/api/v1/asyncapi.json")
    assert response.status_code == 200
    assert response.json() == asyncapi_document()
    assert response.json()["asyncapi"].startswith("3.")


async def drive_every_socket(sockets) -> None:
    """Commands, refusals and a task push on each socket, so the check always has frames."""
    untrusted = await new_frontend()
    for path, key in (("/ws/tasks/", "not-a-grove-key"), ("/ws/admin/", untrusted.key)):
        refused = await sockets.connect(path, key=key)
        await refused.receive_json_from(timeout=TIMEOUT)  # error
        await refused.receive_output(timeout=TIMEOUT)  # close 4401, 4403

    admin = await new_frontend(trusted=True)
    admin_socket = await sockets.connect("/ws/admin/", key=admin.key)
    await send(admin_socket, {"type": "ping"})
    await send(admin_socket, {"type": "subscribe_lang", "lang": "en"})  # unknown here: error

    health = await sockets.connect("/ws/health/")
    await send(health, {"type": "ping"})
    await send(health, {"type": "hello"})

    frontend = await new_frontend()
    user = protocol_user("ada")
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    for command in (
        {"type": "subscribe", "user": user},
        {"type": "subscribe_lang", "lang": "en"},
        {"type": "ping"},
        {"type": "subscribe", "user": {"id": "no display name"}},
        {"type": "subscribe_lang", "lang": "not a language!"},
        {"type": "no_such_command"},
    ):
        await send(socket, command)
    await socket.send_to("not json")
    await socket.receive_json_from(timeout=TIMEOUT)
    response = await sync_to_async(frontend.post)(
        "tasks/", {"type": "initial_prompt", "user": user}
    )
    assert response.status_code == 200
    await receive_event(socket, "task_assigned")
    await send(socket, {"type": "unsubscribe_lang", "lang": "en"})
    await send(socket, {"type": "unsubscribe", "user": user})


@ws_db
async def test_every_frame_sent_in_the_websocket_tests_matches_the_asyncapi_document(sockets):
    await drive_every_socket(sockets)
    document = asyncapi_document()
    problems, frames = [], 0
    for path, output in SERVER_OUTPUT:
        if output["type"] == "websocket.send":
            frames += 1
            problems += frame_problems(document, path, json.loads(output["text"]))
        elif output["type"] == "websocket.close":
            documented = channel_for(document, path)["x-close-codes"]
            if output.get("code", 1000) not in documented:
                problems.append(f"{path}: close code {output.get('code')} is not documented")
    assert frames >= 15
    assert not problems, "\n".join(problems)
