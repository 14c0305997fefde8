"""How each profile gets its database connections (settings read in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/grove"


def database_settings(**env: str) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings;"
        "print(json.dumps(settings.DATABASES['default'], default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GROVE_DB", "DATABASE"))}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "backend.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


BOUNDED = "<class 'backend.postgres_client.BoundedConnection'>"


def test_postgres_connections_come_from_a_pool_sized_to_the_request_bound():
    db = database_settings(DATABASE_URL=POSTGRES_URL, GROVE_WEB_MAX_CONCURRENT_REQUESTS="7")
    assert db["OPTIONS"]["pool"] == {
        "min_size": 2,
        "max_size": 7,
        "timeout": 5,
        "reconnect_timeout": 4,  # the back-off on a lost connection starts over soon
        "connection_class": BOUNDED,  # stops waiting on a server that answers nothing
    }
    assert db["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections


def test_pool_size_and_wait_are_set_from_the_environment():
    db = database_settings(
        DATABASE_URL=POSTGRES_URL,
        GROVE_DB_POOL_MIN_SIZE="1",
        GROVE_DB_POOL_MAX_SIZE="4",
        GROVE_DB_POOL_TIMEOUT_SECONDS="3",
        GROVE_DB_POOL_RECONNECT_SECONDS="9",
    )
    assert db["OPTIONS"]["pool"] == {
        "min_size": 1,
        "max_size": 4,
        "timeout": 3,
        "reconnect_timeout": 9,
        "connection_class": BOUNDED,
    }


def test_without_the_pool_connections_live_conn_max_age_seconds():
    db = database_settings(
        DATABASE_URL=POSTGRES_URL, GROVE_DB_POOL="false", GROVE_DB_CONN_MAX_AGE="30"
    )
    assert "pool" not in db.get("OPTIONS", {})
    assert db["CONN_MAX_AGE"] == 30


def test_embedded_sqlite_profile_has_no_pool():
    db = database_settings()
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert "pool" not in db["OPTIONS"]
