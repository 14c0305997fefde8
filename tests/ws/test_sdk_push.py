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
    InvalidAnswer,
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


class CountingClient(GroveClient):
    """The SDK's REST client, noting the path of every call it makes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.paths: list[str] = []

    def post(self, path: str, body: dict, **kwargs):
        self.paths.append(path.split("?")[0])
        return super().post(path, body, **kwargs)


def answer_prompts(port: int, *, count: int, **loop_options) -> tuple[list, list[str], bool]:
    """``count`` initial prompts pushed to ADA and answered; (the tasks, REST paths called,
    whether the loop answered on the socket)."""
    client = CountingClient(f"http://127.0.0.1:{port}", KEY)
    loop = PushLoop(client, [ADA], task_kind="initial_prompt", idle_seconds=15, **loop_options)
    seen = []
    for pushed in loop:
        seen.append(pushed)
        done = pushed.reply(f"Prompt number {len(seen)}: why is the sea salty?")
        assert done == {"type": "task_done", "id": pushed.id}
        if len(seen) == count:
            break
    return seen, client.paths, loop.answers_on_socket


async def test_push_loop_acks_and_answers_on_the_socket_when_grove_takes_answers_there(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:
        seen, paths, on_socket = await asyncio.to_thread(answer_prompts, port, count=3)
    assert on_socket and paths == ["/ws_tickets/"]  # no ack, no interaction over REST
    rows = await sync_to_async(task_rows)(id__in=[p.id for p in seen])
    assert len(rows) == 3 and all(
        row.done and row.frontend_message_id == str(row.id) for row in rows
    )


async def test_push_loop_answers_over_rest_when_told_to(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:
        seen, paths, on_socket = await asyncio.to_thread(
            answer_prompts, port, count=1, socket_answers=False
        )
    assert not on_socket
    assert paths == ["/ws_tickets/", f"/tasks/{seen[0].id}/ack", "/tasks/interaction"]


async def test_a_refused_socket_answer_raises_the_same_error_class_as_rest(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:

        def refused():
            client = GroveClient(f"http://127.0.0.1:{port}", KEY)
            loop = PushLoop(client, [ADA], task_kind="initial_prompt", idle_seconds=15)
            tasks = loop.tasks()
            pushed = next(tasks)
            found = []
            for answer in (lambda: pushed.reply("   "), lambda: pushed.rank([0])):
                with pytest.raises(GroveError) as caught:
                    answer()
                found.append(caught.value)
            pushed.reply("A prompt after two refusals: what is a tide?")
            tasks.close()
            return found

        empty, wrong_kind = await asyncio.to_thread(refused)
    assert isinstance(empty, InvalidAnswer) and (empty.error_code, empty.status) == (1010, 400)
    assert isinstance(wrong_kind, InvalidAnswer) and wrong_kind.error_code == 2102
