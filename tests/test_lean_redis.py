"""``backend.lean_redis``: scripts on the suite's real Redis, from threads and on a loop."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import pytest
import redis
from django.conf import settings
from redis import exceptions

from backend import lean_redis

ECHO = lean_redis.Script(
    "return {tonumber(ARGV[1]), ARGV[2], redis.call('GET', KEYS[1]), {1, 'two'}, false}"
)
SET = lean_redis.Script("redis.call('SET', KEYS[1], ARGV[1]) return redis.status_reply('OK')")
FAIL = lean_redis.Script("return redis.error_reply('grove-test refused')")
SLOW = lean_redis.Script(
    "local t = redis.call('TIME') local until_us = t[1] * 1000000 + t[2] + ARGV[1] * 1000 "
    "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us return 1"
)
KEY = "grove:test:lean"


@pytest.fixture
def observer():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(KEY)
    yield client
    client.delete(KEY)
    client.close()


def connection_of(observer: redis.Redis, sock: socket.socket) -> dict:
    host, port = sock.getsockname()[:2]
    found = [c for c in observer.client_list() if c["addr"] == f"{host}:{port}"]
    assert len(found) == 1, f"no Redis connection from {host}:{port}"
    return found[0]


def kill(observer: redis.Redis, sock: socket.socket) -> None:
    host, port = sock.getsockname()[:2]
    assert observer.client_kill_filter(_type=None, addr=f"{host}:{port}") == 1


def sync_scripts(timeout: float = 2.0) -> lean_redis.SyncScripts:
    scripts = lean_redis.sync_scripts(settings.REDIS_URL, timeout=timeout)
    assert isinstance(scripts, lean_redis.SyncScripts)
    return scripts


def test_the_url_names_host_port_database_and_password():
    target = lean_redis.target_of("redis://:s3cret@example.org:6390/7")
    assert (target.host, target.port, target.db, target.password) == (
        "example.org",
        6390,
        7,
        "s3cret",
    )
    assert lean_redis.target_of("unix:///run/redis.sock?db=4").path == "/run/redis.sock"
    assert lean_redis.target_of("rediss://example.org:6390/0") is None
    tls = lean_redis.sync_scripts("rediss://example.org:6390/0", timeout=1)
    assert not isinstance(tls, lean_redis.SyncScripts)  # redis-py serves TLS


def test_replies_come_back_as_redis_py_gives_them(observer):
    scripts = sync_scripts()
    observer.set(KEY, "stored")
    assert scripts.run(ECHO, [KEY], [42, "héllo"]) == [
        42,
        "héllo".encode(),
        b"stored",
        [1, b"two"],
        None,  # Lua's false
    ]
    assert scripts.run(SET, [KEY], [b"\x00\xffbytes"]) == b"OK"
    assert observer.get(KEY) == b"\x00\xffbytes"


def test_the_database_of_the_url_is_the_one_written(observer):
    scripts = sync_scripts()
    scripts.run(SET, [KEY], ["in-the-suite-db"])
    assert lean_redis.target_of(settings.REDIS_URL).db != 0
    assert observer.get(KEY) == b"in-the-suite-db"
    other = redis.Redis.from_url(settings.REDIS_URL.rsplit("/", 1)[0] + "/0")
    try:
        assert other.get(KEY) is None
    finally:
        other.close()


def test_a_script_redis_forgot_is_sent_again_then_called_by_digest(observer):
    scripts = sync_scripts()
    observer.script_flush()
    assert scripts.run(SET, [KEY], ["first"]) == b"OK"  # NOSCRIPT, then EVAL
    assert observer.script_exists(SET.sha) == [True]
    assert scripts.run(SET, [KEY], ["second"]) == b"OK"
    assert connection_of(observer, scripts._local.connection.sock)["cmd"] == "evalsha"
    assert observer.get(KEY) == b"second"


def test_an_error_reply_raises_and_the_connection_goes_on(observer):
    scripts = sync_scripts()
    with pytest.raises(exceptions.ResponseError, match="grove-test refused"):
        scripts.run(FAIL)
    assert scripts.run(SET, [KEY], ["after"]) == b"OK"


def test_each_thread_has_its_own_connection(observer):
    scripts = sync_scripts()
    seen = []

    def call(n: int) -> None:
        for i in range(50):
            assert scripts.run(ECHO, [KEY], [n * 1000 + i, "x"])[0] == n * 1000 + i
        seen.append(scripts._local.connection.sock.getsockname())

    threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 4


def test_a_connection_closed_while_idle_is_replaced_for_the_same_call(observer, monkeypatch):
    scripts = sync_scripts()
    scripts.run(SET, [KEY], ["before"])
    kill(observer, scripts._local.connection.sock)
    monkeypatch.setattr(lean_redis, "IDLE_SECONDS", 0.0)
    assert scripts.run(SET, [KEY], ["after"]) == b"OK"
    assert observer.get(KEY) == b"after"


def test_a_call_lost_on_a_busy_connection_is_not_sent_twice(observer, monkeypatch):
    scripts = sync_scripts()
    scripts.run(SET, [KEY], ["before"])
    kill(observer, scripts._local.connection.sock)
    monkeypatch.setattr(lean_redis, "IDLE_SECONDS", 3600.0)
    with pytest.raises(exceptions.ConnectionError):
        scripts.run(SET, [KEY], ["lost"])
    assert observer.get(KEY) == b"before"
    assert scripts.run(SET, [KEY], ["next"]) == b"OK"  # a new connection


def test_a_forked_process_opens_its_own_connection(observer):
    """A Celery pool process is forked from a parent that may have called already: sharing
    its socket would hand each process the other's replies."""
    scripts = sync_scripts()
    scripts.run(SET, [KEY], ["parent"])
    parent_socket = scripts._local.connection.sock
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's outcome is its exit status)
        try:
            ok = all(scripts.run(ECHO, [KEY], [n, "child"])[0] == n for n in range(200))
            ok = ok and scripts._local.connection.sock is not parent_socket
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    for n in range(200):
        assert scripts.run(ECHO, [KEY], [n, "parent"])[:2] == [n, b"parent"]
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert scripts._local.connection.sock is parent_socket


def test_no_redis_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    scripts = lean_redis.sync_scripts(f"redis://127.0.0.1:{port}/1", timeout=1)
    with pytest.raises(exceptions.ConnectionError):
        scripts.run(SET, [KEY], ["x"])


def test_a_reply_later_than_the_timeout_is_a_timeout_error(observer):
    scripts = sync_scripts(timeout=0.1)
    observer.script_load(SLOW.source)
    with pytest.raises(exceptions.TimeoutError):
        scripts.run(SLOW, [], [400])
    time.sleep(0.5)  # Redis runs one script at a time: the slow one ends first
    assert scripts.run(SET, [KEY], ["after"]) == b"OK"


# --- on an event loop ----------------------------------------------------------------------


def async_scripts(timeout: float = 2.0) -> lean_redis.AsyncScripts:
    scripts = lean_redis.async_scripts(settings.REDIS_URL, connect_timeout=1, timeout=timeout)
    assert isinstance(scripts, lean_redis.AsyncScripts)
    return scripts


async def test_pipelined_calls_each_get_their_own_reply(observer):
    scripts = async_scripts()
    try:
        replies = await asyncio.gather(
            *(scripts.run(ECHO, [KEY], [n, f"n{n}"]) for n in range(300))
        )
        assert [reply[:2] for reply in replies] == [[n, f"n{n}".encode()] for n in range(300)]
    finally:
        scripts.close()


async def test_a_forgotten_script_and_an_error_reply_on_the_loop(observer):
    scripts = async_scripts()
    try:
        observer.script_flush()
        assert await scripts.run(SET, [KEY], ["loop"]) == b"OK"
        with pytest.raises(exceptions.ResponseError, match="grove-test refused"):
            await scripts.run(FAIL)
        assert await scripts.run(ECHO, [KEY], [1, "a"]) == [1, b"a", b"loop", [1, b"two"], None]
    finally:
        scripts.close()


async def test_a_slow_reply_fails_the_waiting_calls_and_the_next_gets_a_new_connection(observer):
    scripts = async_scripts(timeout=0.15)
    try:
        observer.script_load(SLOW.source)
        observer.script_load(SET.source)
        first = await scripts._connect()
        slow = asyncio.ensure_future(scripts.run(SLOW, [], [500]))
        await asyncio.sleep(0)  # written before the next
        behind = asyncio.ensure_future(scripts.run(SET, [KEY], ["behind"]))
        with pytest.raises(exceptions.TimeoutError):
            await slow
        with pytest.raises(exceptions.TimeoutError):
            await behind  # its reply would come after the slow one's: not trusted
        await asyncio.sleep(0.5)  # the slow script ends
        assert await scripts.run(SET, [KEY], ["next"]) == b"OK"
        assert scripts._protocol is not first
    finally:
        scripts.close()


async def test_a_killed_connection_fails_its_calls_and_the_next_call_reconnects(
    observer, monkeypatch
):
    scripts = async_scripts()
    try:
        await scripts.run(SET, [KEY], ["before"])
        monkeypatch.setattr(lean_redis, "IDLE_SECONDS", 3600.0)
        sock = scripts._protocol.transport.get_extra_info("socket")
        kill(observer, sock)  # the loop has not seen the close yet: the call is written
        with pytest.raises(exceptions.ConnectionError):
            await scripts.run(SET, [KEY], ["lost"])
        assert observer.get(KEY) == b"before"
        assert await scripts.run(SET, [KEY], ["after"]) == b"OK"
        assert observer.get(KEY) == b"after"
    finally:
        scripts.close()


async def test_an_idle_connection_found_closed_is_replaced_for_the_same_call(observer, monkeypatch):
    scripts = async_scripts()
    try:
        await scripts.run(SET, [KEY], ["before"])
        sock = scripts._protocol.transport.get_extra_info("socket")
        kill(observer, sock)
        monkeypatch.setattr(lean_redis, "IDLE_SECONDS", 0.0)
        assert await scripts.run(SET, [KEY], ["after"]) == b"OK"
    finally:
        scripts.close()
