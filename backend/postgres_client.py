"""A psycopg connection that stops waiting for PostgreSQL after a deadline.

``statement_timeout`` bounds a statement the server runs; a server that runs nothing (paused,
a frozen VM, a host whose kernel still acknowledges packets) enforces nothing, and a request
would wait on its socket until the server came back: the fault test saw every request of a
paused PostgreSQL held for the whole pause. Every wait of this connection for the server (a
statement, a commit, the pool's health check) gives up after ``wait_timeout`` seconds: the
connection is closed, as its protocol state is unknown (the pool then discards it), and
``OperationalError`` raised, which the API answers 503 (``frontend_api/v1/errors.py``).

A COMMIT the server had received before it stopped may still happen when it resumes, after
the client was answered 503: the change is then whole, and a retry of it is refused as done.

The connection also notes when the server last answered it, so the pool's health check
(``check_if_idle``) can skip a connection that was working a moment ago.
"""

from __future__ import annotations

import contextlib
import time

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool


def bounded_connection_class(wait_timeout: float | None) -> type[psycopg.Connection]:
    """A ``psycopg.Connection`` whose waits for the server end after ``wait_timeout``
    seconds (None: no limit). Give it to the pool as its ``connection_class``."""

    class BoundedConnection(psycopg.Connection):
        answered_at = 0.0  # time.monotonic() of the server's last answer

        def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
            if timeout is not None or wait_timeout is None:
                result = super().wait(gen, interval, timeout)  # the caller's own limit
            else:
                try:
                    result = super().wait(gen, interval, wait_timeout)
                # psycopg's wait raises its private _WaitTimeout (an OperationalError).
                except errors._WaitTimeout:
                    self.pgconn.finish()
                    raise errors.OperationalError(
                        f"PostgreSQL did not answer within {wait_timeout:g} s; connection closed"
                    ) from None
            self.answered_at = time.monotonic()
            return result

    BoundedConnection.__qualname__ = BoundedConnection.__name__ = "BoundedConnection"
    return BoundedConnection


def check_if_idle(idle_seconds: float):
    """The pool's health check, run only on a connection the server has not answered for
    ``idle_seconds``: psycopg_pool's check is a round trip on every checkout, one per HTTP
    request (3 per task cycle); a connection that answered a moment ago is known to work.
    A connection that broke in between fails its next statement, which answers 503 and is
    discarded by the pool, as a connection that breaks during a request always was."""

    def check(connection: psycopg.Connection) -> None:
        answered_at = getattr(connection, "answered_at", 0.0)
        if time.monotonic() - answered_at >= idle_seconds:
            ConnectionPool.check_connection(connection)

    return check


def cache_long_statements(max_length: int, max_params: int) -> None:
    """Let psycopg cache the conversion of statements up to ``max_length`` characters with up
    to ``max_params`` parameters.

    psycopg parses a statement's placeholders (a regular expression over its text) on every
    execution unless the text is at most 4,096 bytes with at most 50 parameters, when an LRU
    cache keeps the result. The task request's read of the ready-work index has more: a
    profile of a web process put 6 % of its request thread in that parse. psycopg reads both
    limits from its module at each call; a test (tests/db/test_statement_cache.py) fails if
    a release moves them.
    """
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, max_length)
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, max_params)


def execute_prepared(cursor, sql: str, params) -> None:
    """Run ``sql`` on Django's ``cursor`` as a statement prepared from its first run on this
    connection (psycopg's ``prepare=True``), through Django's execute wrappers (the query
    count, the timing) as ``cursor.execute`` runs it.

    Connections prepare a statement from its third run (``GROVE_DB_PREPARE_THRESHOLD``); the
    two runs before are planned for their values, each as dear as the generic plan. For the
    task request's sampled read (``work_queries``: eighty subqueries) that was three plans of
    30-40 ms on each new connection: a burst of 200 requests on a cold server waited past the
    pool's timeout for connections whose first requests were planning (tests/db/
    test_http_concurrency.py). Without server-side preparing (``prepare_threshold`` None, for
    PgBouncer) or on another database, it is ``cursor.execute``."""
    raw = getattr(cursor.cursor, "connection", None)
    if cursor.db.vendor != "postgresql" or getattr(raw, "prepare_threshold", None) is None:
        cursor.execute(sql, params)
        return

    def run(sql, params, many, context):
        cursor.db.validate_no_broken_transaction()
        with cursor.db.wrap_database_errors:
            return cursor.cursor.execute(sql, params, prepare=True)

    # A debug cursor (settings.DEBUG, a test capturing queries) notes the statement as its
    # own execute would.
    debug = getattr(cursor, "debug_sql", None)
    noted = debug(sql, params, use_last_executed_query=True) if debug else contextlib.nullcontext()
    with noted:
        cursor._execute_with_wrappers(sql, params, many=False, executor=run)
