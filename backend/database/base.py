"""Django's PostgreSQL backend with two changes.

**The pool's check.** The connection pool checks a connection before lending it only when the
connection sat idle (``backend.postgres_client.check_if_idle``). Django builds the pool with
psycopg_pool's own check when ``CONN_HEALTH_CHECKS`` is on (a round trip on every checkout,
so on every request) and takes no check of its own in the pool's options; settings turn
Django's off and this backend gives the pool ours.

**psycopg's own loaders for ``timestamptz`` and ``jsonb``.** Django registers Python loaders
for both on every connection: for ``timestamptz`` a subclass of psycopg's pure-Python loader
that parses the text and then sets the datetime's ``tzinfo`` to the connection's time zone;
for ``jsonb`` the pure-Python text loader (Django's ``JSONField`` decodes the text itself).
psycopg's binary package has both in C. Profiled (``bench/cycle_cpu.py`` under py-spy, the
request thread's samples), Django's timestamp loader was 3.5 % of a task cycle's web CPU: a
task's, a user's and a ready-work row's timestamps, read on every request. When Django's time
zone for the connection is UTC (``USE_TZ``, no ``TIME_ZONE`` in ``DATABASES``: Grove's
settings), Django also sets the session's ``TimeZone`` to UTC, and psycopg's C loader then
returns the very values Django's does (aware datetimes in ``datetime.timezone.utc``;
``tests/db/test_database_loaders.py`` compares them). Under any other time zone, or without
the C loaders, Django's loaders stay.
"""

from __future__ import annotations

import datetime
import functools

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe
from psycopg.adapt import AdaptersMap
from psycopg.pq import Format

from backend.postgres_client import check_if_idle

_TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid
_TEXT_OID = psycopg.adapters.types["text"].oid
# psycopg's default loaders: the C ones when the binary package is installed.
_C_TIMESTAMPTZ = psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
_C_TEXT = psycopg.adapters.get_loader(_TEXT_OID, Format.TEXT)
_HAVE_C_LOADERS = _C_TIMESTAMPTZ.__module__.startswith("psycopg_binary")


def c_loaders_apply(timezone) -> bool:
    """Whether a connection in Django's ``timezone`` reads with psycopg's C loaders."""
    return _HAVE_C_LOADERS and timezone is datetime.UTC


@functools.cache
def _with_c_loaders(template: AdaptersMap) -> AdaptersMap:
    """Django's adapters ``template`` with psycopg's C loaders for timestamptz and jsonb."""
    adapters = AdaptersMap(template)
    adapters.register_loader("timestamptz", _C_TIMESTAMPTZ)
    adapters.register_loader("jsonb", _C_TEXT)
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        # psycopg_pool keeps the check in ``_check`` (tests/db/test_statement_cache.py fails
        # if a release moves it).
        if pool is not None and pool._check is None:
            pool._check = check_if_idle(settings.GROVE_DB_POOL_CHECK_IDLE_SECONDS)
        return pool

    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("context") is not None and c_loaders_apply(self.timezone):
            params["context"] = _with_c_loaders(params["context"])
        return params

    @async_unsafe
    def create_cursor(self, name=None):
        if not self._reads_with_c_loaders():
            return super().create_cursor(name)
        # Django's own, less its time-zone check: it reads the connection's timestamptz
        # loader's ``timezone`` (a class attribute of Django's loader; psycopg's C loader has
        # none) and registers its own loader on the cursor when the two differ. With the C
        # loader the connection is in UTC, Django's time zone, already.
        if not name:
            return self.connection.cursor()
        if self.settings_dict["OPTIONS"].get("server_side_binding") is not True:
            return base.ServerSideCursor(
                self.connection, name=name, scrollable=False, withhold=self.connection.autocommit
            )
        return self.connection.cursor(name, scrollable=False, withhold=self.connection.autocommit)

    def _reads_with_c_loaders(self) -> bool:
        loader = self.connection.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
        return loader is _C_TIMESTAMPTZ and c_loaders_apply(self.timezone)
