"""A pytest plugin for the suite run in parallel (pytest-xdist, ``scripts/test``): each worker
process runs on a Redis database of its own.

pytest-django gives each worker its own test database (``test_grove_gw0``, ``test_grove_gw1``,
...). Redis needs the same: the API tests flush their database before each test and the
websocket tests flush the channel layer, so two workers on one database would empty each
other's. Worker ``gwN`` takes the database ``N`` below ``REDIS_URL``'s (15, 14, ...).

``scripts/test`` loads this module with ``-p tests.parallel``: a plugin named there is imported
before pytest-django reads Django's settings, which read ``REDIS_URL`` once, at import. The
rewritten ``REDIS_URL`` is in the worker's environment, so the servers and Celery workers a test
starts use that database too. No Django import here.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlparse

from tests.redis_isolation import redis_db

# Set in a worker once its REDIS_URL is its own (tests/conftest.py refuses a worker without it).
APPLIED_VARIABLE = "GROVE_TEST_WORKER_REDIS_URL"


def worker_index(worker: str) -> int:
    """``gw3`` -> 3: pytest-xdist's worker names."""
    return int(worker.removeprefix("gw"))


def worker_redis_url(url: str, index: int) -> str:
    """``url`` with the database ``index`` below its own; an error when that would be db 0
    or below (a developer's default, see tests/redis_isolation.py)."""
    db = redis_db(url) - index
    if db < 1:
        raise ValueError(
            f"worker {index} would run on Redis database {db} below REDIS_URL={url}: give the "
            f"suite a higher database (TEST_REDIS_URL) or fewer workers (GROVE_TEST_WORKERS)"
        )
    parsed = urlparse(url)
    # redis-py reads ``?db=`` before the path: the database is named in the path alone.
    query = urlencode([(k, v) for k, v in parse_qsl(parsed.query) if k != "db"])
    return parsed._replace(path=f"/{db}", query=query).geturl()


def _apply() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("REDIS_URL")
    if not worker or not url or os.environ.get(APPLIED_VARIABLE):
        return
    os.environ["REDIS_URL"] = os.environ[APPLIED_VARIABLE] = worker_redis_url(
        url, worker_index(worker)
    )


_apply()
