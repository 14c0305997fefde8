"""Helpers for tests that start real Grove processes against the test database."""

from __future__ import annotations

import socket

from django.db import connection


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test run uses (``test_...``)."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


test_database_url.__test__ = False  # not a test, whatever its name says


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
