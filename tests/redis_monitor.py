"""The commands one Redis database ran while a block of a test ran, read with ``MONITOR``.

``INFO`` counts (``commandstats``, ``total_connections_received``) are the whole server's: in
the parallel suite (``tests/parallel.py``) another worker's commands on its own database land
in them too, and a test that compared them before and after failed now and then. ``MONITOR``
names each command's database and connection, so a test can look at its own database only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import uuid
from collections.abc import Iterator

import redis

from tests.redis_isolation import redis_db

WATCH_TIMEOUT = 5


@dataclasses.dataclass(frozen=True)
class Command:
    connection: str  # "address:port" of the client that sent it
    name: str  # upper case: "ZCARD", "EVALSHA", ...


@contextlib.contextmanager
def commands_on(url: str) -> Iterator[list[Command]]:
    """The commands clients sent to ``url``'s database while the block ran (not those a Lua
    script ran: they are its caller's), in order; the list fills in when the block ends."""
    db, marker = redis_db(url), f"grove-test-watch-{uuid.uuid4().hex}"
    seen: list[Command] = []
    listening = threading.Event()
    watcher = redis.Redis.from_url(url)
    ender = redis.Redis.from_url(url)
    ender.ping()  # connected (and its database selected) before the watch starts

    def watch() -> None:
        with watcher.monitor() as monitor:
            listening.set()
            for line in monitor.listen():
                if marker in line["command"]:
                    return
                if line["db"] == db and line["client_type"] == "tcp":
                    name = line["command"].split(" ", 1)[0].upper()
                    seen.append(Command(f"{line['client_address']}:{line['client_port']}", name))

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert listening.wait(WATCH_TIMEOUT), "MONITOR did not start"
    try:
        yield seen
    finally:
        try:
            ender.echo(marker)  # the last command the watcher reads
        finally:
            ender.close()
        thread.join(WATCH_TIMEOUT)
        watcher.close()
        assert not thread.is_alive(), "MONITOR did not see the end of the block"
