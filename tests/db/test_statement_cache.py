"""The database client's per-request savings: psycopg's statement cache holds the request
path's long statements, and the pool checks only connections that sat idle."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import _queries

from backend.compiled_query import compiled_once
from backend.postgres_client import bounded_connection_class, check_if_idle
from backend.trees.core.policy import TaskKind
from backend.trees.services.tasks import request_task
from tests.builders import make_client, make_tree, make_user

postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="psycopg and its pool are PostgreSQL's"
)


@postgres_only
@pytest.mark.django_db
def test_a_task_request_parses_no_statement_psycopg_has_parsed_before(monkeypatch):
    client = make_client()
    for _ in range(3):
        make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    request_task(user=make_user(client), kind=TaskKind.RANDOM, lang="en")
    parsed = []
    uncached = _queries._query2pg_nocache  # what psycopg calls for a statement it won't cache

    def parse(query, encoding):
        parsed.append(len(query))
        return uncached(query, encoding)

    monkeypatch.setattr(_queries, "_query2pg_nocache", parse)
    with CaptureQueriesContext(connection) as sent:
        request_task(user=make_user(client), kind=TaskKind.RANDOM, lang="en")
    # The read of the ready-work index is past psycopg's defaults (4,096 bytes, 50 parameters).
    assert max(len(query["sql"]) for query in sent.captured_queries) > 4096
    assert parsed == []


def _connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    return bounded_connection_class(None).connect(**params, autocommit=True)


@postgres_only
@pytest.mark.django_db
def test_the_pool_checks_a_connection_only_after_it_sat_idle():
    check = check_if_idle(idle_seconds=60)
    conn = _connection()
    conn.execute("SELECT 1")
    conn.pgconn.finish()  # broken, but it answered a moment ago: not checked
    check(conn)
    conn.answered_at = time.monotonic() - 61  # idle for longer than the limit: checked
    with pytest.raises(psycopg.OperationalError):
        check(conn)


@postgres_only
@pytest.mark.django_db
def test_the_pool_lends_connections_with_the_idle_check_not_djangos_per_request_one():
    if connection.pool is None:
        pytest.skip("GROVE_DB_POOL=false: no pool")
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is False
    assert connection.pool._check.__qualname__.startswith("check_if_idle")


@postgres_only
@pytest.mark.django_db
def test_the_sampled_read_is_prepared_at_its_first_run_and_still_counted():
    """Planned three times per new connection before (twice for its values, then the generic
    plan): 30-40 ms each for its eighty subqueries."""
    client = make_client()
    make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    connection.connection._prepared._names.clear()  # psycopg's own note of what it prepared
    with CaptureQueriesContext(connection) as sent:
        request_task(user=make_user(client), kind=TaskKind.RANDOM, lang="en")
    assert any(q["sql"].startswith("SELECT sampled.") for q in sent.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert [text for text in prepared if text.startswith("SELECT sampled.")]


def test_a_first_call_from_many_threads_computes_once_and_the_cache_is_bounded():
    calls = []
    started = threading.Barrier(16)

    @compiled_once(maxsize=2)
    def compile_slowly(key: str) -> str:
        calls.append(key)
        time.sleep(0.2)
        return f"compiled {key}"

    results = []

    def first_call() -> None:
        started.wait(timeout=10)
        results.append(compile_slowly("en"))

    threads = [threading.Thread(target=first_call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == ["compiled en"] * 16
    assert calls == ["en"]
    compile_slowly("de")
    compile_slowly("fr")  # the third key pushes the oldest out
    compile_slowly("de")
    assert calls == ["en", "de", "fr"]
    compile_slowly("en")
    assert calls == ["en", "de", "fr", "en"]
