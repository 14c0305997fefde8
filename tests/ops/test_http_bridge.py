"""The ASGI-to-WSGI bridge that serves Django's HTTP requests (backend/http_bridge.py)."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import async_to_sync

from backend.http_bridge import ThreadedWsgi

SCOPE = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "path": "/echo",
    "query_string": b"a=1",
    "headers": [(b"content-type", b"text/plain")],
    "server": ("127.0.0.1", 8080),
}


async def call(app, messages):
    """Run ``app`` on one request; returns what it sent."""
    incoming = list(messages)
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    await app(SCOPE, receive, send)
    return sent


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response(
        "201 Created", [("Content-Type", "text/plain"), ("X-Query", environ["QUERY_STRING"])]
    )
    return [b"got:", body]


async def test_request_body_in_parts_reaches_the_app_and_the_response_is_sent_whole():
    sent = await call(
        ThreadedWsgi(echo, threads=2),
        [
            {"type": "http.request", "body": b"hel", "more_body": True},
            {"type": "http.request", "body": b"lo", "more_body": False},
        ],
    )
    assert sent[0]["status"] == 201
    assert (b"x-query", b"a=1") in sent[0]["headers"]
    assert sent[1:] == [{"type": "http.response.body", "body": b"got:hello"}]


class Streamed:
    streaming = True

    def __init__(self):
        self.closed = False

    def __iter__(self):
        yield from (b"one", b"", b"two")

    def close(self):
        self.closed = True


async def test_streaming_response_is_sent_chunk_by_chunk_and_closed():
    result = Streamed()

    def app(environ, start_response):
        start_response("200 OK", [])
        return result

    sent = await call(ThreadedWsgi(app, threads=1), [{"type": "http.request", "body": b""}])
    assert [m.get("body") for m in sent[1:]] == [b"one", b"two", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, False]
    assert result.closed


async def test_a_client_gone_before_its_body_never_reaches_the_app():
    called = []

    def app(environ, start_response):
        called.append(environ)
        return []

    assert await call(ThreadedWsgi(app, threads=1), [{"type": "http.disconnect"}]) == []
    assert called == []


async def test_async_to_sync_in_a_request_runs_on_the_servers_event_loop():
    """Channel-layer pushes reuse the server's loop and connections, not a loop per call."""
    loops = []

    async def where():
        loops.append(asyncio.get_running_loop())

    def app(environ, start_response):
        async_to_sync(where)()
        start_response("204 No Content", [])
        return []

    await call(ThreadedWsgi(app, threads=1), [{"type": "http.request", "body": b""}])
    assert loops == [asyncio.get_running_loop()]


async def test_a_body_past_the_limit_is_answered_413_without_reading_the_rest():
    app = ThreadedWsgi(echo, threads=1, max_body_bytes=10)
    parts = [{"type": "http.request", "body": b"x" * 8, "more_body": True}] * 3
    sent = await call(app, parts)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {
        "message": "request body larger than 10 bytes",
        "error_code": 0,
    }
