"""The console's figures of the whole deployment, which no single process holds: p50/p99 of
task requests, task requests answered "no task available" per language, and volunteers active
over REST per language.

Every web process, on every machine, flushes what it counted to Redis (the cache's,
``CACHE_URL``) every GROVE_CONSOLE_FLUSH_SECONDS from a daemon thread, in one pipeline: the
increase of its task-request latency buckets and of its "no task" counters since its previous
flush (read from its own Prometheus metrics, which the middleware and ``request_task`` count
anyway), added into time slots that all processes share (``HINCRBY``), and the users who asked
for a task over REST, added to a HyperLogLog per language and minute (``PFADD``). The request
path pays one set insertion under a lock (``note_rest_volunteer``); no Redis round trip.

The console (``read_figures``) sums the last minute's slots and counts the distinct users of
the last REST_ACTIVE_SECONDS (``PFCOUNT`` over the minutes' HyperLogLogs: exact for a few
users, within 1 % for thousands). A process that dies loses what it counted since its last
flush; its earlier flushes stay counted. Slots are wall-clock times: machines keep their clocks
in sync (NTP), as log timestamps already require.

Without a cache Redis (the embedded profile, one process) the console reads the process's own
metrics instead (``local_metrics``).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterator

import redis
from django.conf import settings

from backend.console import local_metrics
from backend.observability.metrics import HTTP_REQUEST_DURATION, TASK_REQUESTS_UNSERVED, lang_label

logger = logging.getLogger("grove.console")

PREFIX = "grove:console:"
SLOT_SECONDS = 10  # latency and "no task" slots
LATENCY_WINDOW_SECONDS = 60
REST_SLOT_SECONDS = 60  # one HyperLogLog per language and minute
REST_ACTIVE_SECONDS = 300  # "active over REST": asked for a task in the last five minutes
KEEP_SECONDS = 900  # slots expire after this (the reads look back at most REST_ACTIVE_SECONDS)
# Users one process remembers between two flushes, per language; past it, the rest of the
# interval's users are not counted (a bound on memory if Redis stays down).
MAX_USERS_PER_FLUSH = 50_000
LATENCY_FIELD = "lat:"
UNSERVED_FIELD = "none:"


def figures_key(slot: int) -> str:
    return f"{PREFIX}fig:{slot}"


def rest_key(slot: int, lang: str) -> str:
    return f"{PREFIX}rest:{slot}:{lang}"


def rest_langs_key(slot: int) -> str:
    return f"{PREFIX}rest-langs:{slot}"


# --- the request path ---------------------------------------------------------------------
_volunteers: dict[str, set] = {}
_volunteers_lock = threading.Lock()


def note_rest_volunteer(user_id: object, lang: str | None) -> None:
    """``user_id`` (any value naming one user; its ``str`` is counted) asked for a task in
    ``lang`` over REST (flushed with the next batch)."""
    label = lang_label(lang)
    with _volunteers_lock:
        users = _volunteers.get(label)
        if users is None:
            users = _volunteers[label] = set()
        if len(users) < MAX_USERS_PER_FLUSH:
            users.add(user_id)  # made text at the flush, off the request path


def _take_volunteers() -> dict[str, set]:
    global _volunteers
    with _volunteers_lock:
        taken, _volunteers = _volunteers, {}
    return taken


def _give_back_volunteers(taken: dict[str, set]) -> None:
    for lang, users in taken.items():
        for user in users:
            note_rest_volunteer(user, lang)


# --- flushing -------------------------------------------------------------------------------
class _OwnMetrics:
    """This process's own values of the two metrics (in multiprocess mode too: a metric's
    ``collect`` reads the process's own file)."""

    def collect(self) -> Iterator:
        yield from HTTP_REQUEST_DURATION.collect()
        yield from TASK_REQUESTS_UNSERVED.collect()


def _bound_field(bound: float) -> str:
    return LATENCY_FIELD + ("inf" if math.isinf(bound) else repr(bound))


class Flusher:
    """Adds this process's counts since its previous flush to the shared slots."""

    def __init__(self) -> None:
        self.flushed_buckets: dict[float, float] = {}
        self.flushed_unserved: dict[str, float] = {}

    def flush(self, client: redis.Redis, now: float | None = None) -> None:
        now = time.time() if now is None else now
        own = _OwnMetrics()
        buckets = local_metrics.task_request_buckets(own)
        unserved = local_metrics.unserved_requests(own)
        volunteers = _take_volunteers()
        increments = {
            _bound_field(bound): round(count - self.flushed_buckets.get(bound, 0.0))
            for bound, count in buckets.items()
        }
        increments.update(
            {
                UNSERVED_FIELD + lang: round(count - self.flushed_unserved.get(lang, 0.0))
                for lang, count in unserved.items()
            }
        )
        increments = {field: n for field, n in increments.items() if n > 0}
        if not increments and not volunteers:
            return
        pipe = client.pipeline(transaction=False)
        if increments:
            key = figures_key(int(now // SLOT_SECONDS))
            for field, n in increments.items():
                pipe.hincrby(key, field, n)
            pipe.expire(key, KEEP_SECONDS)
        if volunteers:
            minute = int(now // REST_SLOT_SECONDS)
            for lang, users in volunteers.items():
                pipe.pfadd(rest_key(minute, lang), *map(str, users))
                pipe.expire(rest_key(minute, lang), KEEP_SECONDS)
            pipe.sadd(rest_langs_key(minute), *volunteers)
            pipe.expire(rest_langs_key(minute), KEEP_SECONDS)
        try:
            pipe.execute()
        except redis.RedisError:
            _give_back_volunteers(volunteers)  # the counters' increases wait for the next flush
            raise
        self.flushed_buckets, self.flushed_unserved = buckets, unserved

    def run(self) -> None:
        while True:
            interval = settings.GROVE_CONSOLE_FLUSH_SECONDS
            time.sleep(interval if interval > 0 else 1.0)
            client = redis_client()
            if client is None or settings.GROVE_CONSOLE_FLUSH_SECONDS <= 0:
                continue  # 0: flushes paused (a test flushing by hand)
            try:
                self.flush(client)
            except Exception:  # Redis down: the next flush carries the counts
                logger.warning("event=console_flush_failed", exc_info=True)


_client: redis.Redis | None = None
_started_in: int | None = None
_start_lock = threading.Lock()


def redis_client() -> redis.Redis | None:
    """This process's client of the cache Redis; None without one (embedded profile)."""
    global _client
    if _client is None and settings.CACHE_URL:
        timeout = settings.GROVE_CACHE_SOCKET_TIMEOUT_SECONDS
        _client = redis.Redis.from_url(
            settings.CACHE_URL, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    return _client


def start_flusher() -> None:
    """Start this process's flusher thread (once per process; none without a cache Redis)."""
    global _started_in
    if not settings.CACHE_URL:
        return
    with _start_lock:
        if _started_in == os.getpid():
            return
        _started_in = os.getpid()
    threading.Thread(target=Flusher().run, name="grove-console-flush", daemon=True).start()


# --- reading --------------------------------------------------------------------------------
def read_figures(client: redis.Redis, now: float | None = None) -> dict:
    """``{"latency": {requests, span_seconds, p50_ms, p99_ms, scope}, "unserved": {lang: n},
    "rest_active": {lang: n}}`` over every process's flushes (two round trips)."""
    now = time.time() if now is None else now
    slot = int(now // SLOT_SECONDS)
    first = slot - LATENCY_WINDOW_SECONDS // SLOT_SECONDS
    minutes = _rest_minutes(now)
    pipe = client.pipeline(transaction=False)
    for n in range(first, slot + 1):
        pipe.hgetall(figures_key(n))
    for n in minutes:
        pipe.smembers(rest_langs_key(n))
    answers = pipe.execute()
    slots, lang_sets = answers[: slot + 1 - first], answers[slot + 1 - first :]
    buckets: dict[float, float] = {}
    unserved: dict[str, int] = {}
    for fields in slots:
        for raw_field, raw_count in fields.items():
            field, count = raw_field.decode(), int(raw_count)
            if field.startswith(LATENCY_FIELD):
                bound = float(field[len(LATENCY_FIELD) :])
                buckets[bound] = buckets.get(bound, 0) + count
            elif field.startswith(UNSERVED_FIELD):
                lang = field[len(UNSERVED_FIELD) :]
                unserved[lang] = unserved.get(lang, 0) + count
    rest_active = _count_volunteers(client, lang_sets, minutes)
    p50, p99 = local_metrics.quantile(0.5, buckets), local_metrics.quantile(0.99, buckets)
    latency = {
        "requests": int(max(buckets.values(), default=0)),
        "span_seconds": round(now - first * SLOT_SECONDS, 1),
        "p50_ms": None if p50 is None else round(p50 * 1000, 1),
        "p99_ms": None if p99 is None else round(p99 * 1000, 1),
        "scope": "deployment",
    }
    return {"latency": latency, "unserved": unserved, "rest_active": rest_active}


def rest_volunteers(client: redis.Redis, now: float | None = None) -> dict[str, int]:
    """Distinct users per language who asked for a task over REST in the last
    REST_ACTIVE_SECONDS (two round trips)."""
    minutes = _rest_minutes(time.time() if now is None else now)
    pipe = client.pipeline(transaction=False)
    for n in minutes:
        pipe.smembers(rest_langs_key(n))
    return _count_volunteers(client, pipe.execute(), minutes)


def _rest_minutes(now: float) -> range:
    minute = int(now // REST_SLOT_SECONDS)
    return range(minute - REST_ACTIVE_SECONDS // REST_SLOT_SECONDS, minute + 1)


def _count_volunteers(client: redis.Redis, lang_sets: list, minutes: range) -> dict[str, int]:
    langs = sorted({member.decode() for members in lang_sets for member in members})
    if not langs:
        return {}
    pipe = client.pipeline(transaction=False)
    for lang in langs:
        pipe.pfcount(*(rest_key(n, lang) for n in minutes))
    return {lang: n for lang, n in zip(langs, pipe.execute(), strict=True) if n}
