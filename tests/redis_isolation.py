"""The suite's own Redis database: every Redis the settings use is the one the suite was given
(``REDIS_URL``), and it is not database 0, a developer's default, unless asked for.

The API tests clear the cache before each test (a ``FLUSHDB`` of its database) and the
websocket tests flush the channel layer, so a suite pointed at a developer's database would
empty it. No Django import here: ``tests/conftest.py`` calls this before any test runs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

# Set to 1 to run the suite on database 0 anyway (a Redis that serves nothing else, in CI).
ALLOW_DB0_VARIABLE = "GROVE_TEST_ALLOW_REDIS_DB0"

# The settings that name a Redis, each defaulting to REDIS_URL (backend/settings.py).
REDIS_SETTINGS = ("CACHE_URL", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL", "GROVE_PUSH_REDIS_URL")


def redis_db(url: str) -> int:
    """The database a Redis URL selects, read as redis-py does: ``/n``, else ``?db=n``, else 0."""
    parsed = urlparse(url)
    path = parsed.path.strip("/") if parsed.scheme in ("redis", "rediss") else ""
    if path:
        return int(path)
    return int(parse_qs(parsed.query).get("db", ["0"])[0])


def redis_refusals(settings: Any, *, allow_db0: bool) -> list[str]:
    """Why the suite must not run on these settings' Redis (empty: it may)."""
    given = settings.REDIS_URL
    refusals = [
        f"{name}={url} is not the suite's REDIS_URL={given}: unset it (./scripts/test does)"
        for name in REDIS_SETTINGS
        if (url := getattr(settings, name)) != given
    ]
    if redis_db(given) == 0 and not allow_db0:
        refusals.append(
            f"REDIS_URL={given} is Redis database 0, which the suite would flush: give it a "
            f"database of its own (./scripts/test uses TEST_REDIS_URL, default db 15) or set "
            f"{ALLOW_DB0_VARIABLE}=1"
        )
    return refusals
