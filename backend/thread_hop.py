"""Database work of the event loop (websockets) run in a thread, one plain hop per call.

Channels' ``database_sync_to_async`` (asgiref's ``SyncToAsync`` with Django's stale-connection
cleanup around the call) builds a wrapper object per call, inspects the function, shields the
executor's future and re-homes every context variable before and after. Profiled at 16 push
volunteers (py-spy, GIL samples of a web process), ``SyncToAsync.__call__`` alone was 8 % of
the samples, for three calls per task cycle (the claim, the ack, the answer). ``in_thread``
does what those calls need and no more:

- the function runs on ``executor`` in a copy of the caller's context (as ``run_in_executor``
  with ``contextvars.copy_context``; nothing the thread sets flows back);
- Django's stale connections are closed before and after it, as Channels does (with the pool,
  the connection goes back to it between calls);
- the thread names the server's event loop where ``async_to_sync`` looks for it, so an
  event the function publishes (``backend.events``) goes out on that loop and its Redis
  connections (``serve_loop_from_thread``, as the HTTP bridge does).

A cancelled caller stops waiting at once; the thread finishes its call (as with
``thread_sensitive=False``, the only way these calls were made).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from concurrent.futures import Executor

from asgiref.sync import SyncToAsync
from django.db import close_old_connections


def serve_loop_from_thread(loop: asyncio.AbstractEventLoop) -> None:
    """Name ``loop`` as this thread's server loop, where asgiref's ``AsyncToSync`` sends its
    coroutines (its thread-local ``main_event_loop``)."""
    server = SyncToAsync.threadlocal
    server.main_event_loop = loop
    server.main_event_loop_pid = os.getpid()
    server.task_context = []


def _run(loop, function, args, kwargs):
    serve_loop_from_thread(loop)
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


async def in_thread(executor: Executor, function, /, *args, **kwargs):
    """``function(*args, **kwargs)`` on ``executor``, with the database cleanup of Channels'
    ``database_sync_to_async``; its result or its exception."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(executor, context.run, _run, loop, function, args, kwargs)
