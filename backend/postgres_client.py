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
"""

from __future__ import annotations

import psycopg
from psycopg import errors


def bounded_connection_class(wait_timeout: float | None) -> type[psycopg.Connection]:
    """A ``psycopg.Connection`` whose waits for the server end after ``wait_timeout``
    seconds (None: no limit). Give it to the pool as its ``connection_class``."""

    class BoundedConnection(psycopg.Connection):
        def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
            if timeout is not None or wait_timeout is None:
                return super().wait(gen, interval, timeout)  # the caller's own limit
            try:
                return super().wait(gen, interval, wait_timeout)
            # psycopg's wait raises its private _WaitTimeout (an OperationalError) on expiry.
            except errors._WaitTimeout:
                self.pgconn.finish()
                raise errors.OperationalError(
                    f"PostgreSQL did not answer within {wait_timeout:g} s; connection closed"
                ) from None

    BoundedConnection.__qualname__ = BoundedConnection.__name__ = "BoundedConnection"
    return BoundedConnection
