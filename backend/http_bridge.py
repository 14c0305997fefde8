"""Serve Django's synchronous request handler from the ASGI server, one thread hop a request.

Django's ASGI handler runs its middleware chain in "async mode" when any middleware can be
async: with WhiteNoise (synchronous only) in the chain, each of the middlewares inside it
moved ``process_request`` and ``process_response`` to a thread and back, and the chain itself
hopped between the event loop and threads again around the view. Profiled at 16 clients
(py-spy, GIL samples), asgiref's thread hand-offs took about 40 % of a web process's CPU.
Here the whole request (middleware, view, response) runs in one worker thread with Django's
WSGI handler; the event loop only reads the body and writes the response. Websockets stay on
Channels.

The hop is a plain ``run_in_executor`` with a copy of the request task's context. The thread
then names the server's event loop the way asgiref's ``sync_to_async`` does (its thread-local
``main_event_loop``), so ``async_to_sync`` calls made by the request (channel-layer pushes) go
back to that loop and its Redis connections. ``sync_to_async`` itself built a wrapper object,
inspected the function and re-homed every context variable on each request: profiled at 16
clients (py-spy, GIL samples), about a fifth of the event loop's CPU in a web process. A
streaming response (the admin's export) is sent chunk by chunk from the thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
from concurrent.futures import ThreadPoolExecutor

from asgiref.wsgi import WsgiToAsgiInstance

from backend.thread_hop import serve_loop_from_thread


class ThreadedWsgi:
    """An ASGI app for ``http`` scopes that runs a WSGI app in a pool of ``threads``."""

    def __init__(self, wsgi_app, *, threads: int, max_body_bytes: int | None = None):
        self.wsgi_app = wsgi_app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grove-http")
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            # The body is held in memory: past the limit it is not read on (413 at once).
            if self.max_body_bytes is not None and len(body) > self.max_body_bytes:
                await _too_large(send, self.max_body_bytes)
                return
            if not message.get("more_body"):
                break
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        answer = await loop.run_in_executor(
            self.executor, context.run, self._run, scope, bytes(body), loop, send
        )
        if answer is not None:  # not streamed: the whole response at once
            start, content = answer
            await send(start)
            await send({"type": "http.response.body", "body": content})

    def _run(self, scope, body: bytes, loop, send):
        serve_loop_from_thread(loop)
        translator = WsgiToAsgiInstance(self.wsgi_app)
        translator.scope = scope  # build_environ reads the server name from it
        environ = translator.build_environ(scope, io.BytesIO(body))
        started: dict = {}

        def start_response(status, headers, exc_info=None):
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [
                (name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers
            ]

        result = self.wsgi_app(environ, start_response)
        try:
            start = {
                "type": "http.response.start",
                "status": started["status"],
                "headers": started["headers"],
            }
            if not getattr(result, "streaming", False):
                return start, b"".join(result)

            def send_now(message: dict) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            send_now(start)
            for chunk in result:
                if chunk:
                    send_now({"type": "http.response.body", "body": chunk, "more_body": True})
            send_now({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


async def _too_large(send, limit: int) -> None:
    """413 in Open-Assistant's error shape (frontend_api/v1/errors.py)."""
    content = json.dumps(
        {"message": f"request body larger than {limit} bytes", "error_code": 0}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": content})
