"""Redis clients for an event loop (websocket work), whose pool waits for a free connection.

redis-py's asyncio pool holds at most 100 connections by default and *raises*
``MaxConnectionsError`` when a 101st command starts while the others are in flight. A web
process serving a thousand sockets meets that whenever many of them act at once (a drain
closing them all, a bot reconnecting its users): the commands past the hundredth failed, and
a socket closed then was never detached. A blocking pool makes them wait their turn instead,
up to ``GROVE_ASYNC_REDIS_WAIT_SECONDS``.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from django.conf import settings


def client(url: str, *, socket_timeout: float, connect_timeout: float) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=settings.GROVE_ASYNC_REDIS_MAX_CONNECTIONS,
        timeout=settings.GROVE_ASYNC_REDIS_WAIT_SECONDS,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
    )
    return aioredis.Redis.from_pool(pool)
