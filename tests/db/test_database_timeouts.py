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


def test_a_connection_stops_waiting_for_a_server_that_does_not_answer():
    """A pg_sleep stands in for a paused server (which enforces no statement_timeout)."""
    from time import monotonic

    import psycopg

    from backend.postgres_client import bounded_connection_class
    from tests.live import test_database_url

    url = test_database_url().replace("postgres://", "postgresql://")
    with bounded_connection_class(0.5).connect(url, autocommit=True) as conn:
        started = monotonic()
        with pytest.raises(psycopg.OperationalError, match=r"did not answer within 0\.5 s"):
            conn.execute("SELECT pg_sleep(3)")
        assert monotonic() - started < 2
        assert conn.closed  # its protocol state is unknown: never reused


def test_pooled_connections_give_up_five_seconds_after_the_statement_timeout(settings):
    pool = settings.DATABASES["default"]["OPTIONS"].get("pool")
    if not pool:
        pytest.skip("GROVE_DB_POOL is off")
    assert pool["connection_class"].__name__ == "BoundedConnection"
    assert settings.GROVE_DB_CLIENT_TIMEOUT_SECONDS == 35


def test_every_connection_keeps_one_generic_plan_per_prepared_statement():
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"


def _options_under(mode: str):
    import os
    import subprocess
    import sys

    env = {**os.environ, "GROVE_DB_PLAN_CACHE_MODE": mode}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['OPTIONS']['options'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_plan_cache_mode_follows_its_setting_and_refuses_a_bad_value():
    auto = _options_under("auto")
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.split()[-1] == "plan_cache_mode=auto"

    bad = _options_under("generic")
    assert bad.returncode != 0
    assert "GROVE_DB_PLAN_CACHE_MODE must be auto, force_generic_plan or force_custom_plan" in (
        bad.stderr
    )
