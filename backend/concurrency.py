"""Bound the HTTP requests one web process works on at once.

Django runs each request's synchronous view in a thread of its own under ASGI, and each such
thread holds its own database connection. Without a bound, a burst of N requests opens N
PostgreSQL connections per process and can exhaust ``max_connections`` (every request then
fails). This ASGI wrapper lets at most ``limit`` requests in; the others wait their turn
instead of failing. Websockets are not counted: they hold no connection while idle.
"""

from __future__ import annotations

import asyncio


class ConcurrencyLimit:
    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.limit <= 0:
            return await self.app(scope, receive, send)
        if self._slots is None:  # created in the server's event loop, on first use
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            return await self.app(scope, receive, send)
