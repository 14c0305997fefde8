"""Request throttling per API client and per acting user (rates from settings).

Both budgets are fixed-window counters: a request adds one to the client's counter and, when it
names a user, to that user's counter for the current window (``floor(now / period)``), and is
refused when either counter is past its rate. On Redis the increments of both counters and
their expiry are one Lua script (``EVALSHA``): one command and one reply per request, on a
kept-open connection per request thread (``backend.lean_redis``: redis-py's own call of the
script was 6 % of a web process's GIL samples at 16 clients). A MULTI/EXEC pipeline of the
same commands (seven commands packed, seven replies parsed) cost a third more CPU; DRF's
``SimpleRateThrottle`` made a GET and a SET per throttle, and Django's cache client opened a
new connection in every request's context. Without Redis the counters live in the process (the
embedded profile's single process).

A refused request gets 429 in OA's error shape with a Retry-After header (see errors.py) that
says when the exceeded window ends. Refused requests count too; they cannot push the end of a
window further.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from backend import lean_redis, listeners
from backend.observability.metrics import THROTTLE_UNAVAILABLE
from frontend_api.v1.auth import USER_HEADER

logger = logging.getLogger("grove.api.throttle")
COUNTER_PREFIX = "grove:throttle"
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"120/minute"`` → ``(120, 60)``: DRF's rate strings (the period's first letter counts)."""
    count, _, period = rate.partition("/")
    return int(count), PERIOD_SECONDS[period[0]]


@dataclass(frozen=True)
class Budget:
    key: str
    limit: int
    period_seconds: int


# KEYS: the window counters, then (optionally) the open-socket set. ARGV: each counter's
# expiry in seconds, then the oldest socket score that still counts. Returns each counter's
# value, then the number of open sockets when the set was given.
_HIT_SCRIPT = """
local out = {}
local n_counters = tonumber(ARGV[1])
for i = 1, n_counters do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i + 1]) end
  out[i] = count
end
if #KEYS > n_counters then
  out[n_counters + 1] = redis.call('ZCOUNT', KEYS[n_counters + 1], ARGV[n_counters + 2], '+inf')
end
return out
"""
_HIT = lean_redis.Script(_HIT_SCRIPT)


class RedisCounters:
    """Fixed-window counters in Redis: every budget of a request in one command."""

    def __init__(self, scripts: lean_redis.SyncScripts):
        self.scripts = scripts

    def hit(self, budgets: list[Budget], now: float) -> list[int]:
        keys = [_window_key(budget, now) for budget in budgets]
        # One second of slack, so a counter read at the window's end still exists.
        args: list = [len(budgets), *(budget.period_seconds + 1 for budget in budgets)]
        counting = listeners.enabled()
        if counting:  # the same round trip tells whether any event socket is open
            key, oldest = listeners.open_sockets_range(time.time())
            keys.append(key)
            args.append(oldest)
        results = self.scripts.run(_HIT, keys, args)
        if counting:
            listeners.note_open_sockets(results.pop())
        return results


class LocalCounters:
    """The same counters in this process, for the embedded profile (no Redis)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, int]] = {}  # key -> (window end, count)

    def hit(self, budgets: list[Budget], now: float) -> list[int]:
        with self._lock:
            self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            counts = []
            for budget in budgets:
                key = _window_key(budget, now)
                end, count = self._counts.get(key, (_window_end(budget, now), 0))
                self._counts[key] = (end, count + 1)
                counts.append(count + 1)
            return counts


def _window_key(budget: Budget, now: float) -> str:
    return f"{COUNTER_PREFIX}:{budget.key}:{int(now // budget.period_seconds)}"


def _window_end(budget: Budget, now: float) -> float:
    return (int(now // budget.period_seconds) + 1) * budget.period_seconds


@functools.cache
def counters() -> RedisCounters | LocalCounters:
    """This process's counter store, built on first use (GROVE_CACHE_URL, else in-process)."""
    if settings.CACHE_URL:
        timeout = settings.GROVE_CACHE_SOCKET_TIMEOUT_SECONDS
        return RedisCounters(lean_redis.sync_scripts(settings.CACHE_URL, timeout=timeout))
    return LocalCounters()


class ProtocolRateThrottle(BaseThrottle):
    """The API client's budget (``api_client`` rate) and the acting user's (``user`` rate).

    The user is the one the view acts for, read from where that view reads it: a view whose
    body names the user declares ``acting_user_field`` (the body's field with the OA user
    object, or ``""`` when the body is that object) and is counted on that user, whatever
    X-OASST-USER says; every other view acts for X-OASST-USER. So a client cannot spread one
    user's requests over budgets by varying a header the view ignores.
    """

    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    timer = staticmethod(time.time)

    def __init__(self):
        self.retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        budgets = self.budgets(request, view)
        if not budgets:
            return True
        now = self.timer()
        try:
            counts = counters().hit(budgets, now)
        except redis.RedisError as exc:
            listeners.note_open_sockets(None)
            # Fail open: the counters are a guard, not the service. Redis down or paused
            # (GROVE_CACHE_SOCKET_TIMEOUT_SECONDS) lets the request in, with a line to count.
            logger.warning("event=throttle_unavailable outcome=allowed error=%r", exc)
            THROTTLE_UNAVAILABLE.inc()
            return True
        exceeded = [b for b, count in zip(budgets, counts, strict=True) if count > b.limit]
        if not exceeded:
            return True
        self.retry_after = max(_window_end(b, now) - now for b in exceeded)
        return False

    def wait(self) -> float | None:
        return self.retry_after

    def budgets(self, request, view=None) -> list[Budget]:
        if request.auth is None:
            return []
        budgets = []
        client_rate = self.THROTTLE_RATES.get("api_client")
        if client_rate:
            limit, period = parse_rate(client_rate)
            budgets.append(Budget(f"api_client:{request.auth.id}", limit, period))
        user_rate = self.THROTTLE_RATES.get("user")
        ident = _acting_user_ident(request, view)
        if user_rate and ident:
            limit, period = parse_rate(user_rate)
            # The user part is the caller's free text: hashed, so any name makes a short key.
            digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
            budgets.append(Budget(f"user:{request.auth.id}:{digest}", limit, period))
        return budgets


BODY_METHODS = ("POST", "PUT", "PATCH")


def _acting_user_ident(request, view) -> str:
    """``auth_method:username`` as the view will resolve it; "" when it names nobody."""
    field = getattr(view, "acting_user_field", None)
    if field is None or request.method not in BODY_METHODS:
        return request.META.get(USER_HEADER, "")
    data = request.data if isinstance(request.data, dict) else {}
    user = data.get(field) if field else data
    if not isinstance(user, dict) or not user.get("id"):
        return ""
    # As ProtocolUserSerializer reads it (CharField trims), so " ada" is still ada.
    return f"{user.get('auth_method')}:{str(user['id']).strip()}"
