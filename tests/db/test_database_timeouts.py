"""Grove's PostgreSQL connections fail fast: a bounded connect and a server-side limit on
every statement (GROVE_DB_CONNECT_TIMEOUT_SECONDS, GROVE_DB_STATEMENT_TIMEOUT_SECONDS)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_every_connection_gives_up_connecting_after_five_seconds():
    connection.ensure_connection()

    assert connection.connection.info.get_parameters()["connect_timeout"] == "5"


def test_every_statement_is_cancelled_by_the_server_after_thirty_seconds():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "30s"
