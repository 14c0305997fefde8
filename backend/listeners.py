"""Whether any event socket is open, so that a request whose events nobody can hear skips them.

Every push (``backend.events``) is a channel-layer ``group_send``: a Redis round trip, made
from the request's thread through the server's event loop. Profiled at 16 REST clients
(py-spy, GIL samples of a web process), those pushes were 17 % of the process's CPU while no
socket was open at all, the common case for frontends that poll.

Sockets that can hear events (an ``ApiClientConsumer`` in any process that joined an event
group: a subscription, the admin group) keep their channel name in one Redis sorted set,
scored by when they were last seen: added when the first group is joined, refreshed with each
keepalive, removed on disconnect. A socket that only waits for pushed work joins no group and
is not counted: with 1,000 such sockets every claim still skips its ``task_assigned`` event.
A process that dies leaves its entries, which count as open until ``STALE_SECONDS`` pass
without a refresh (a push too many, never one too few). The REST throttle's Redis round trip,
which every API request already makes, also counts the set (``open_sockets_range``); when it
reads zero, the request's pushes are skipped (``events.publish``). A socket that subscribes
while a request is running may miss that request's events, as if it had subscribed a moment
later.

Outside a request (a Celery job: an advance job's pushes were 17 % of its time, each with a
new event loop in a new thread) nothing has counted the set: the process counts it itself, at
most once every ``CHECK_SECONDS``, and skips pushes while the count is zero.

Only with the Redis channel layer and the Redis throttle store (``CACHE_URL``), where both
sides can see the set; otherwise every push is sent, as before.

Push dispatch asks the same question of its own Redis (``backend.push.signals.is_active``: is
any socket ready for pushed work?): both are a ``RedisCheck``, a yes/no read from Redis that
each process keeps for a fraction of a second, forgets when a socket of its own opens, and
answers with a fixed fallback when Redis fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar

import redis
import redis.asyncio
from django.conf import settings

from backend import async_redis

logger = logging.getLogger("grove.listeners")

KEY = "grove:ws:listening"
# Keepalives come every GROVE_WS_KEEPALIVE_SECONDS (25 s): three missed ones and an entry is
# stale.
STALE_SECONDS = 90.0

_clients: dict[int, tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis]] = {}


def enabled() -> bool:
    return bool(settings.CACHE_URL) and "channels_redis" in settings.CHANNEL_LAYERS["default"].get(
        "BACKEND", ""
    )


def open_sockets_range(now: float) -> tuple[str, float]:
    """The sorted set of open sockets and the oldest score that still counts: ``ZCOUNT key
    oldest +inf`` is the number of sockets open now (the throttle's script asks it)."""
    return KEY, now - STALE_SECONDS


class RedisCheck:
    """A yes/no question answered from Redis, kept by this process for ``seconds``.

    ``read(client)`` asks it of the client ``url()`` names (connected on first use; no URL:
    the answer is ``fallback`` and nothing is asked). A Redis error answers ``fallback`` too,
    logged as ``event``, and is kept as long as an answer would be. ``forget`` makes the next
    call ask again (a socket of this process just opened: it must not wait out the period).
    """

    def __init__(
        self,
        *,
        url: Callable[[], str],
        read: Callable[[redis.Redis], bool],
        seconds: float,
        fallback: bool,
        event: str,
    ) -> None:
        self.url, self.read, self.seconds = url, read, seconds
        self.fallback, self.event = fallback, event
        self.checked: tuple[float, bool] = (0.0, fallback)  # (valid until, answer)
        self.client: redis.Redis | None = None
        self.client_url = ""

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self.checked[0]:
            return self.checked[1]
        answer = self.fallback
        url = self.url()
        if url:
            try:
                answer = bool(self.read(self._client(url)))
            except redis.RedisError as exc:
                logger.warning("event=%s error=%r", self.event, exc)
        self.checked = (now + self.seconds, answer)
        return answer

    def forget(self) -> None:
        self.checked = (0.0, self.fallback)

    def _client(self, url: str) -> redis.Redis:
        if self.client is None or self.client_url != url:
            timeout = settings.GROVE_CACHE_SOCKET_TIMEOUT_SECONDS
            self.client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            self.client_url = url
        return self.client


# Set for the current request by the throttle's round trip: True when no socket is open,
# False when one is or the round trip failed; None (unset) when no request counted.
_nobody_listening: ContextVar[bool | None] = ContextVar("grove_nobody_listening", default=None)
CHECK_SECONDS = 0.25


def note_open_sockets(count: int | None) -> None:
    """What the current request learnt (None: nothing, e.g. Redis was unavailable)."""
    _nobody_listening.set(count == 0)


def nobody_listening() -> bool:
    known = _nobody_listening.get()
    if known is not None:
        return known
    return _counted_nobody()


# Whether no socket was open when this process last counted (within CHECK_SECONDS); when
# unsure (not enabled, Redis failing) someone may be: the pushes are sent.
_counted_nobody = RedisCheck(
    url=lambda: settings.CACHE_URL if enabled() else "",
    read=lambda client: client.zcount(KEY, time.time() - STALE_SECONDS, "+inf") == 0,
    seconds=CHECK_SECONDS,
    fallback=False,
    event="listener_count_failed",
)


def forget_count() -> None:
    """Count again at the next push (tests; a socket just opened in this process)."""
    _counted_nobody.forget()


class RequestScope:
    """Middleware: what a request learnt about open sockets ends with it (a test client, or
    a thread that serves several requests, keeps one context)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _nobody_listening.set(None)
        try:
            return self.get_response(request)
        finally:
            _nobody_listening.reset(token)


def _client() -> redis.asyncio.Redis:
    # One client per event loop: redis.asyncio connections belong to the loop that made them.
    loop = asyncio.get_running_loop()
    found = _clients.get(id(loop))
    if found is not None and found[0] is loop:
        return found[1]
    timeout = settings.GROVE_CACHE_SOCKET_TIMEOUT_SECONDS
    client = async_redis.client(settings.CACHE_URL, socket_timeout=timeout, connect_timeout=timeout)
    _clients[id(loop)] = (loop, client)
    return client


async def seen(channel_name: str) -> None:
    """The socket ``channel_name`` is open (now); old entries of dead processes are dropped."""
    if not enabled():
        return
    now = time.time()
    forget_count()
    try:
        pipe = _client().pipeline(transaction=False)
        pipe.zadd(KEY, {channel_name: now})
        pipe.zremrangebyscore(KEY, "-inf", now - STALE_SECONDS)
        await pipe.execute()
    except (redis.RedisError, OSError) as exc:
        logger.warning("event=listener_unrecorded channel=%s error=%r", channel_name, exc)


async def gone(channel_name: str) -> None:
    if not enabled():
        return
    try:
        await _client().zrem(KEY, channel_name)
    except (redis.RedisError, OSError) as exc:
        logger.warning("event=listener_not_removed channel=%s error=%r", channel_name, exc)
