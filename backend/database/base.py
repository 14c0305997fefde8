"""Django's PostgreSQL backend with one change: the connection pool checks a connection
before lending it only when the connection sat idle (``backend.postgres_client.check_if_idle``).

Django builds the pool with psycopg_pool's own check when ``CONN_HEALTH_CHECKS`` is on (a round
trip on every checkout, so on every request) and takes no check of its own in the pool's
options; settings turn Django's off and this backend gives the pool ours.
"""

from __future__ import annotations

from django.conf import settings
from django.db.backends.postgresql import base

from backend.postgres_client import check_if_idle


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        # psycopg_pool keeps the check in ``_check`` (tests/db/test_statement_cache.py fails
        # if a release moves it).
        if pool is not None and pool._check is None:
            pool._check = check_if_idle(settings.GROVE_DB_POOL_CHECK_IDLE_SECONDS)
        return pool
