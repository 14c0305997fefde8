"""The suite runs on a Redis database of its own (``tests/redis_isolation.py``): it refuses
database 0 unless asked, and any Redis setting other than the one it was given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

from tests.parallel import APPLIED_VARIABLE, worker_index, worker_redis_url
from tests.redis_isolation import ALLOW_DB0_VARIABLE, REDIS_SETTINGS, redis_db, redis_refusals

ROOT = Path(__file__).resolve().parent.parent


def redis_settings(url: str, **overrides: str) -> SimpleNamespace:
    return SimpleNamespace(REDIS_URL=url, **(dict.fromkeys(REDIS_SETTINGS, url) | overrides))


def test_redis_db_is_read_from_the_path_then_the_query_then_defaults_to_0():
    assert redis_db("redis://127.0.0.1:6379/15") == 15
    assert redis_db("redis://127.0.0.1:6379/0") == 0
    assert redis_db("redis://127.0.0.1:6379") == 0
    assert redis_db("redis://127.0.0.1:6379/") == 0
    assert redis_db("redis://127.0.0.1:6379?db=3") == 3
    assert redis_db("unix:///run/redis.sock?db=4") == 4


def test_the_suite_refuses_redis_db_0_unless_asked():
    db0 = redis_settings("redis://127.0.0.1:6379/0")
    assert "database 0" in " ".join(redis_refusals(db0, allow_db0=False))
    assert redis_refusals(redis_settings("redis://127.0.0.1:6379"), allow_db0=False)
    assert redis_refusals(db0, allow_db0=True) == []
    assert redis_refusals(redis_settings("redis://127.0.0.1:6379/15"), allow_db0=False) == []


def test_the_suite_refuses_a_redis_setting_other_than_the_one_it_was_given():
    # Say GROVE_CACHE_URL left at a developer's db 0: the API tests' cache.clear() would flush it.
    stray = redis_settings("redis://127.0.0.1:6379/15", CACHE_URL="redis://127.0.0.1:6379/0")
    refusals = redis_refusals(stray, allow_db0=True)
    assert [r for r in refusals if r.startswith("CACHE_URL=redis://127.0.0.1:6379/0 ")] == refusals


def test_this_run_uses_one_redis_database_that_is_not_db_0_unless_asked():
    assert {getattr(settings, name) for name in REDIS_SETTINGS} == {settings.REDIS_URL}
    assert redis_db(settings.REDIS_URL) != 0 or os.environ.get(ALLOW_DB0_VARIABLE) == "1"


def test_pytest_on_redis_db_0_stops_before_any_test_runs():
    env = {k: v for k, v in os.environ.items() if k != ALLOW_DB0_VARIABLE}
    env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    pytest_args = ["-q", "-p", "no:cacheprovider", "tests/api/test_health.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "is Redis database 0, which the suite would flush" in run.stdout + run.stderr
    assert " passed" not in run.stdout


def test_each_parallel_worker_runs_on_a_redis_database_below_the_suites():
    assert worker_redis_url("redis://127.0.0.1:6379/15", worker_index("gw0")) == (
        "redis://127.0.0.1:6379/15"
    )
    assert worker_redis_url("redis://:pw@127.0.0.1:6379/15", worker_index("gw2")) == (
        "redis://:pw@127.0.0.1:6379/13"
    )
    # ``?db=`` is what redis-py reads first: the worker's database replaces it.
    assert worker_redis_url("redis://h:6379?db=9&socket_timeout=3", 1) == (
        "redis://h:6379/8?socket_timeout=3"
    )
    with pytest.raises(ValueError, match="database 0"):
        worker_redis_url("redis://127.0.0.1:6379/2", 2)


def test_this_worker_runs_on_its_own_redis_database():
    """Under pytest-xdist (scripts/test), worker gwN's settings name the database N below the
    suite's; run alone, the suite's own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        assert os.environ.get(APPLIED_VARIABLE) is None
        return
    assert os.environ[APPLIED_VARIABLE] == settings.REDIS_URL
    assert os.environ["REDIS_URL"] == settings.REDIS_URL
