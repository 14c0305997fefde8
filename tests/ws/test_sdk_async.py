"""The SDK's asyncio side (grove_sdk.aio) against real Grove processes: ``AsyncGroveClient``'s
REST calls and ``AsyncPushLoop`` answering on the socket, several tasks at once, and resuming
after its socket drops. Grove serves with uvicorn on the Redis channel layer."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from backend.accounts.services import create_api_client
from backend.trees.models import Message, Task
from grove_sdk import AsyncGroveClient, AsyncPushLoop, NoTaskAvailable, TaskType, User
from tests.live import serve_grove

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KEY = "sdk-async-tests-key-0123456789abcdefgh"
ADA, BOB = User("ada", "Ada"), User("bob", "Bob")


def done_prompts() -> list[tuple[str, str]]:
    """(user, text) of every stored prompt."""
    return sorted(Message.objects.filter(role="prompter").values_list("user__username", "text"))


async def test_async_client_calls_rest_and_raises_grove_errors(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:
        async with AsyncGroveClient(f"http://127.0.0.1:{port}", KEY) as client:
            task = await client.fetch_task(ADA, TaskType.INITIAL_PROMPT, lang="en")
            await client.ack_task(task["id"], "ada-1", user=ADA)
            done = await client.reply(ADA, message_id="ada-1", text="What makes bread rise?")
            with pytest.raises(NoTaskAvailable) as caught:
                await client.fetch_task(ADA, TaskType.RANK_ASSISTANT_REPLIES)
    assert done == {"type": "task_done", "id": task["id"]}
    assert caught.value.error_code == 1006
    assert await sync_to_async(done_prompts)() == [("ada", "What makes bread rise?")]


async def test_async_push_loop_answers_several_tasks_at_once_on_the_socket(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:
        async with AsyncGroveClient(f"http://127.0.0.1:{port}", KEY) as client:
            loop = AsyncPushLoop(client, [ADA, BOB], task_kind="initial_prompt", max_tasks=2)
            seen, answering = [], []

            async def answer(pushed, number: int):
                # Slow people: the next tasks are taken while these answers wait.
                await asyncio.sleep(0.3)
                return await pushed.reply(f"Question {number} from {pushed.user.id}?")

            async for pushed in loop:
                seen.append(pushed)
                answering.append(asyncio.create_task(answer(pushed, len(seen))))
                if len(seen) == 6:
                    break
            answers = await asyncio.gather(*answering)
            await loop.aclose()
    assert loop.answers_on_socket
    assert [a["id"] for a in answers] == [p.id for p in seen] and len({p.id for p in seen}) == 6
    # max_tasks 2 per user: the last of the six came only after earlier answers were stored.
    assert {p.user.id for p in seen} == {"ada", "bob"}
    prompts = await sync_to_async(done_prompts)()
    assert len(prompts) == 6


async def test_async_push_loop_gets_its_leased_task_back_after_its_socket_drops(sockets):
    await sync_to_async(create_api_client)(name="bot", api_key=KEY)
    with serve_grove() as port:
        async with AsyncGroveClient(f"http://127.0.0.1:{port}", KEY) as client:
            loop = AsyncPushLoop(client, [ADA], task_kind="initial_prompt", idle_seconds=15)
            tasks = loop.tasks()
            first = await anext(tasks)
            loop.socket.transport.abort()  # the network drops: no close frame
            again = await anext(tasks)
            await again.reply("Why do onions make people cry?")
            await tasks.aclose()
    assert loop.reconnects == 1
    assert again.id == first.id and again.resumed
    row = await sync_to_async(Task.objects.get)(id=first.id)
    assert row.done and not row.skipped
