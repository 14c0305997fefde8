"""``backend.thread_hop.in_thread``: what the websockets' database calls need of their hop
to a thread (what Channels' ``database_sync_to_async`` gave them)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from backend.thread_hop import in_thread

seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


@pytest.fixture
def executor():
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hop-test")
    yield pool
    pool.shutdown(wait=True)


async def test_runs_in_the_executor_with_a_copy_of_the_callers_context(executor):
    seen.set("caller")

    def work(a, *, b):
        found = seen.get()
        seen.set("thread")  # stays in the copy
        return threading.current_thread().name, found, a + b

    name, found, total = await in_thread(executor, work, 1, b=2)
    assert name.startswith("hop-test")
    assert found == "caller"
    assert total == 3
    assert seen.get() == "caller"


async def test_an_exception_reaches_the_caller(executor):
    def fail():
        raise LookupError("no such task")

    with pytest.raises(LookupError, match="no such task"):
        await in_thread(executor, fail)


async def test_async_to_sync_in_the_thread_runs_on_the_callers_loop(executor):
    loop = asyncio.get_running_loop()

    async def where():
        return asyncio.get_running_loop()

    def work():
        return async_to_sync(where)()

    assert await in_thread(executor, work) is loop


# Not transaction=True: its flush re-creates the content types, which the next test restoring
# serialized rows then inserts again (duplicate keys). The thread opens its own connection.
@pytest.mark.django_db
async def test_the_threads_connection_is_given_back_after_the_call(executor):
    def query():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0]

    assert await in_thread(executor, query) == 1
    # The same (only) thread, after the call: its connection was closed (to the pool).
    held = await asyncio.wrap_future(executor.submit(lambda: connection.connection))
    assert held is None
