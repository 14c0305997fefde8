"""The SDK (sdk/grove_sdk) against real Grove processes: REST calls, typed errors, the push loop.

The SDK is synchronous; it runs in a thread beside the test's event loop. Grove serves with
uvicorn (``serve_grove``) on the Redis channel layer and the Redis line of waiting users.
"""

from __future__ import annotations

import asyncio
import socket as sockets_module
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from backend.accounts.services import create_api_client
from backend.trees.models import Message, Task
from grove_sdk import (
    GroveClient,
    NoTaskAvailable,
    NotAuthorized,
    PushLoop,
    TaskNotFound,
    TaskType,
    User,
)
from grove_sdk.errors import GroveError
from tests.builders import make_tree, make_user
from tests.live import serve_grove

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KEY = "sdk-tests-key-0123456789abcdefghijklmn"
ADA = User("ada", "Ada")


@transaction.atomic
def reply_slots(count: int) -> None:
    """``count`` trees with room for exactly one assistant reply each."""
    author = make_user(create_api_client(name="authors").client, username="author")
    for _ in range(count):
        make_tree(author=author, max_children_count=1, goal_tree_size=2)


def task_rows(**filters) -> list[Task]:
    return list(Task.objects.filter(**filters).order_by("created_at"))


async def test_sdk_rest_calls_store_a_prompt(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:

        def write_prompt():
            client = GroveClient(f"http://127.0.0.1:{port}", KEY)
            task = client.fetch_task(ADA, TaskType.INITIAL_PROMPT, lang="en")
            client.ack_task(task["id"], "ada-task-1", user=ADA)
            done = client.reply(
                ADA, message_id="ada-task-1", text="How do tides work?", user_message_id="m-1"
            )
            client.close()
            return task, done

        task, done = await asyncio.to_thread(write_prompt)
    assert task["type"] == "initial_prompt"
    assert done == {"type": "task_done", "id": task["id"]}
    message = await sync_to_async(Message.objects.get)(frontend_message_id="m-1")
    assert message.text == "How do tides work?" and message.role == "prompter"


async def test_sdk_raises_grove_errors_as_their_classes(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:
        url = f"http://127.0.0.1:{port}"

        def failures() -> list[GroveError]:
            client = GroveClient(url, KEY)
            found = []
            for call in (
                lambda: client.fetch_task(ADA, TaskType.LABEL_INITIAL_PROMPT, lang="en"),
                lambda: client.ack_task(str(uuid.uuid4()), "nowhere"),
                lambda: GroveClient(url, "not-a-key-" * 4).fetch_task(ADA),
            ):
                with pytest.raises(GroveError) as caught:
                    call()
                found.append(caught.value)
            return found

        no_task, unknown, refused = await asyncio.to_thread(failures)
    assert isinstance(no_task, NoTaskAvailable) and (no_task.status, no_task.error_code) == (
        503,
        1006,
    )
    assert isinstance(unknown, TaskNotFound) and unknown.error_code == 2100
    assert isinstance(refused, NotAuthorized) and refused.status in (401, 403)


async def test_push_loop_acks_each_pushed_task_and_the_next_follows_its_answer(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    await sync_to_async(reply_slots)(2)
    with serve_grove(workers=2) as port:

        def volunteer():
            client = GroveClient(f"http://127.0.0.1:{port}", KEY)
            loop = PushLoop(client, [ADA], task_kind="assistant_reply", idle_seconds=15)
            seen = []
            for pushed in loop:
                seen.append(pushed)
                pushed.reply(f"Reply number {len(seen)}: the moon pulls the sea.")
                if len(seen) == 2:
                    break
            return seen

        seen = await asyncio.to_thread(volunteer)
    assert [p.type for p in seen] == ["assistant_reply", "assistant_reply"]
    assert len({p.id for p in seen}) == 2
    rows = await sync_to_async(task_rows)(id__in=[p.id for p in seen])
    assert all(row.done and row.frontend_message_id == str(row.id) for row in rows)


async def test_push_loop_gets_its_leased_task_back_after_its_socket_drops(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    await sync_to_async(reply_slots)(2)
    with serve_grove(workers=2) as port:

        def volunteer():
            client = GroveClient(f"http://127.0.0.1:{port}", KEY)
            loop = PushLoop(client, [ADA], task_kind="assistant_reply", idle_seconds=15)
            tasks = loop.tasks()
            first = next(tasks)
            # The network drops under the socket: no close frame.
            loop.socket.socket.shutdown(sockets_module.SHUT_RDWR)
            again = next(tasks)
            again.reply("The moon pulls the sea, twice a day.")
            tasks.close()
            return first, again, loop.reconnects

        first, again, reconnects = await asyncio.to_thread(volunteer)
    assert reconnects == 1
    assert again.id == first.id and again.resumed  # the leased task, not a new one
    row = (await sync_to_async(task_rows)(id=first.id))[0]
    assert row.done and not row.skipped
