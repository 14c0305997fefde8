"""The web process lets a bounded number of HTTP requests in at once; the rest wait."""

from __future__ import annotations

import asyncio

from backend.concurrency import ConcurrencyLimit


class Recorder:
    def __init__(self):
        self.inside = 0
        self.most = 0
        self.done = 0

    async def __call__(self, scope, receive, send):
        self.inside += 1
        self.most = max(self.most, self.inside)
        await asyncio.sleep(0.01)
        self.inside -= 1
        self.done += 1


async def test_at_most_limit_requests_run_at_once_and_all_finish():
    app = Recorder()
    limited = ConcurrencyLimit(app, limit=3)
    await asyncio.gather(*(limited({"type": "http"}, None, None) for _ in range(20)))
    assert app.most == 3
    assert app.done == 20


async def test_websockets_are_not_held_back():
    app = Recorder()
    limited = ConcurrencyLimit(app, limit=1)
    await asyncio.gather(*(limited({"type": "websocket"}, None, None) for _ in range(5)))
    assert app.most == 5
