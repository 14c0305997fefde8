"""Lua scripts on Redis with as little client work as a call can take: the per-request and
per-push scripts of the hot paths (the throttle's counters, a push's reservation, record and
release).

redis-py spends most of such a call in its own machinery: a pool checkout and return, an
``asyncio.timeout`` per command, the command's packing and the reply's parsing in Python,
retry wrappers. Profiled under push (py-spy, 16 volunteers), its asyncio scripts took 15 % of
a web process's GIL samples for three calls per task; the throttle's one call per REST request
took 6 %. Here a call is one packed write and one reply parsed by hiredis:

- ``SyncScripts``: one kept-open socket per thread (the request threads);
- ``AsyncScripts``: one connection per event loop, calls pipelined on it (each reply matched
  to its call in order), a timer per call instead of a timeout context.

Both speak RESP2 and call a script by its digest (``EVALSHA``), sending its text
(``EVAL``, which loads it again) only when Redis answers NOSCRIPT. Failures raise redis-py's
exceptions (``ConnectionError``, ``TimeoutError``, ``ResponseError``), so callers' handling is
the same for both clients. A call whose connection was found closed is sent once more on a
new connection only when that connection had been idle (a Redis restarted meanwhile); a call
lost on a busy connection is not repeated (it may have run). ``sync_scripts`` and
``async_scripts`` fall back to redis-py for a URL this module does not serve (TLS).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import hiredis
from redis import exceptions
from redis.connection import parse_url

# A connection unused this long is suspect: a call on it that finds it closed is sent again.
IDLE_SECONDS = 1.0


@dataclass(frozen=True)
class Target:
    host: str | None
    port: int
    path: str | None  # a unix socket
    db: int
    username: str | None
    password: str | None

    def handshake(self) -> list[bytes]:
        """The commands a new connection sends first (AUTH, SELECT), packed."""
        out = []
        if self.password is not None:
            user = [self.username] if self.username else []
            out.append(pack("AUTH", *user, self.password))
        if self.db:
            out.append(pack("SELECT", self.db))
        return out


def target_of(url: str) -> Target | None:
    if not url.startswith(("redis://", "unix://")):
        return None
    found = parse_url(url)
    return Target(
        host=found.get("host", "localhost") if "path" not in found else None,
        port=int(found.get("port", 6379)),
        path=found.get("path"),
        db=int(found.get("db", 0) or 0),
        username=found.get("username"),
        password=found.get("password"),
    )


def _bulk(value) -> bytes:
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, bool):
        raise TypeError("a Redis argument cannot be a bool")
    elif isinstance(value, int | float):
        data = repr(value).encode("ascii")
    else:
        raise TypeError(f"a Redis argument cannot be {type(value).__name__}")
    return b"$%d\r\n%s\r\n" % (len(data), data)


def pack(*parts) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


class Script:
    """A Lua script's text and digest."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    def by_digest(self, keys: Sequence, args: Sequence) -> bytes:
        return pack("EVALSHA", self.sha, len(keys), *keys, *args)

    def by_text(self, keys: Sequence, args: Sequence) -> bytes:
        return pack("EVAL", self.source, len(keys), *keys, *args)


def _no_script(reply) -> bool:
    return isinstance(reply, exceptions.ResponseError) and str(reply).startswith("NOSCRIPT")


def _reader() -> hiredis.Reader:
    return hiredis.Reader(replyError=exceptions.ResponseError)


def _checked(reply):
    if isinstance(reply, exceptions.ResponseError):
        raise reply
    return reply


class _Runner:
    def register(self, source: str):
        """``source`` as a callable: ``f(keys=[...], args=[...])`` runs it (as redis-py's
        ``register_script`` does)."""
        script = Script(source)

        def call(keys: Sequence = (), args: Sequence = ()):
            return self.run(script, keys, args)

        return call


# --- from threads ---------------------------------------------------------------------------


class _SyncConnection:
    def __init__(self, target: Target, timeout: float):
        if target.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(target.path)
        else:
            sock = socket.create_connection((target.host, target.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.pid = os.getpid()
        self.reader = _reader()
        self.used = time.monotonic()
        for command in target.handshake():
            _checked(self.call(command))

    def call(self, command: bytes):
        self.sock.sendall(command)
        reader = self.reader
        while (reply := reader.gets()) is False:
            data = self.sock.recv(65536)
            if not data:
                raise exceptions.ConnectionError("Redis closed the connection")
            reader.feed(data)
        self.used = time.monotonic()
        return reply

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class SyncScripts(_Runner):
    """Scripts run from any thread, each thread on a connection of its own."""

    def __init__(self, target: Target, timeout: float):
        self.target = target
        self.timeout = timeout
        self._local = threading.local()

    def run(self, script: Script, keys: Sequence = (), args: Sequence = ()):
        reply = self._call(script.by_digest(keys, args))
        if _no_script(reply):
            reply = self._call(script.by_text(keys, args))
        return _checked(reply)

    def command(self, *parts):
        """One plain command (``LPUSH``, ...), on this thread's connection."""
        return _checked(self._call(pack(*parts)))

    def _call(self, command: bytes):
        connection = getattr(self._local, "connection", None)
        if connection is not None and connection.pid != os.getpid():
            # Inherited through a fork (a Celery pool process): the parent's socket, not this
            # process's to use or close.
            connection = self._local.connection = None
        again = connection is not None and time.monotonic() - connection.used >= IDLE_SECONDS
        try:
            if connection is None:
                connection = self._local.connection = self._connect()
            return connection.call(command)
        except (OSError, exceptions.ConnectionError) as exc:
            self.drop()
            if again and not isinstance(exc, TimeoutError | socket.timeout):
                connection = self._local.connection = self._connect()
                try:
                    return connection.call(command)
                except (OSError, exceptions.ConnectionError) as second:
                    self.drop()
                    raise _as_redis_error(second) from second
            raise _as_redis_error(exc) from exc

    def _connect(self) -> _SyncConnection:
        try:
            return _SyncConnection(self.target, self.timeout)
        except (OSError, exceptions.ConnectionError) as exc:
            raise _as_redis_error(exc) from exc

    def drop(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


def _as_redis_error(exc: BaseException) -> exceptions.RedisError:
    if isinstance(exc, exceptions.RedisError):
        return exc
    if isinstance(exc, TimeoutError | socket.timeout):
        return exceptions.TimeoutError(f"Redis did not answer in time: {exc}")
    return exceptions.ConnectionError(f"Redis connection failed: {exc}")


# --- on an event loop ----------------------------------------------------------------------


class _Pipelined(asyncio.Protocol):
    """One connection; replies come in the order of the calls."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.reader = _reader()
        # (call's future, its timer), in the order the calls were written
        self.waiting: collections.deque[tuple[asyncio.Future, asyncio.TimerHandle]] = (
            collections.deque()
        )
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used = time.monotonic()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future, timer = self.waiting.popleft()
                timer.cancel()
                if not future.done():
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:
            self._fail(exceptions.ConnectionError(f"unreadable Redis reply: {exc}"))
        self.used = time.monotonic()

    def connection_lost(self, exc) -> None:
        self._fail(exceptions.ConnectionError(f"Redis closed the connection: {exc}"))

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        while self.waiting:
            future, timer = self.waiting.popleft()
            timer.cancel()
            if not future.done():
                future.set_exception(error)

    def send(self, command: bytes) -> asyncio.Future:
        if self.closed:
            raise exceptions.ConnectionError("Redis connection closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((future, loop.call_later(self.timeout, self._expired, future)))
        self.transport.write(command)
        return future

    def _expired(self, future: asyncio.Future) -> None:
        if not future.done():
            # The replies after it would be matched to the wrong calls: the connection goes.
            self._fail(exceptions.TimeoutError("Redis did not answer in time"))


class AsyncScripts(_Runner):
    """Scripts run on one event loop, pipelined on one connection."""

    def __init__(self, target: Target, *, connect_timeout: float, timeout: float):
        self.target = target
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._protocol: _Pipelined | None = None
        self._connecting: asyncio.Lock | None = None

    async def run(self, script: Script, keys: Sequence = (), args: Sequence = ()):
        reply = await self._call(script.by_digest(keys, args))
        if _no_script(reply):
            reply = await self._call(script.by_text(keys, args))
        return _checked(reply)

    async def _call(self, command: bytes):
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        again = time.monotonic() - protocol.used >= IDLE_SECONDS
        try:
            return await protocol.send(command)
        except exceptions.TimeoutError:
            raise
        except exceptions.ConnectionError:
            if not again:
                raise
            return await (await self._connect()).send(command)

    async def _connect(self) -> _Pipelined:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None and not self._protocol.closed:
                return self._protocol
            loop = asyncio.get_running_loop()
            target = self.target
            try:
                if target.path is not None:
                    opening = loop.create_unix_connection(
                        lambda: _Pipelined(self.timeout), target.path
                    )
                else:
                    opening = loop.create_connection(
                        lambda: _Pipelined(self.timeout), target.host, target.port
                    )
                _, protocol = await asyncio.wait_for(opening, self.connect_timeout)
            except (TimeoutError, OSError) as exc:
                raise _as_redis_error(exc) from exc
            for command in target.handshake():
                _checked(await protocol.send(command))
            self._protocol = protocol
            return protocol

    def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.closed = True
            protocol.transport.close()


# --- URLs this module does not serve (TLS): redis-py, behind the same ``run`` -------------


class _RedisPyScripts(_Runner):
    def __init__(self, client):
        self.client = client
        self._registered: dict[str, object] = {}

    def _script(self, script: Script):
        found = self._registered.get(script.sha)
        if found is None:
            found = self._registered[script.sha] = self.client.register_script(script.source)
        return found

    def run(self, script: Script, keys: Sequence = (), args: Sequence = ()):
        return self._script(script)(keys=list(keys), args=list(args))

    def command(self, *parts):
        return self.client.execute_command(*parts)

    def close(self) -> None:
        pass


def sync_scripts(url: str, *, timeout: float) -> SyncScripts | _RedisPyScripts:
    target = target_of(url)
    if target is not None:
        return SyncScripts(target, timeout)
    import redis

    return _RedisPyScripts(
        redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    )


def async_scripts(
    url: str, *, connect_timeout: float, timeout: float
) -> AsyncScripts | _RedisPyScripts:
    target = target_of(url)
    if target is not None:
        return AsyncScripts(target, connect_timeout=connect_timeout, timeout=timeout)
    import redis.asyncio as aioredis

    return _RedisPyScripts(
        aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=connect_timeout)
    )
