"""Suite-wide setup.

The database, API, worker, websocket and ops tests run on the real PostgreSQL and Redis (see
scripts/test): a run that collects any of them refuses to start without both. The pure-core
tests in ``tests/unit/`` need neither, nor Django: ``python -m pytest tests/unit -p no:django``
runs them on a machine with nothing else set up, so this module imports no Django at load time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests import parallel
from tests.redis_isolation import ALLOW_DB0_VARIABLE, redis_refusals

UNIT_TESTS = Path(__file__).parent / "unit"

# Derandomized by default, so a counterexample found once is found again on every run and
# machine (and its seed and config can be replayed). HYPOTHESIS_PROFILE=explore searches anew.
settings.register_profile("replayable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "replayable"))


def pytest_collection_finish(session: pytest.Session) -> None:
    if all(UNIT_TESTS in Path(item.path).parents for item in session.items):
        return
    from django.conf import settings as django_settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        django_settings.IS_POSTGRES  # noqa: B018 (loads the settings)
    except ImproperlyConfigured:
        pytest.exit(
            "Only tests/unit runs without Django: the other tests need pytest-django "
            "(DJANGO_SETTINGS_MODULE=backend.settings), PostgreSQL and Redis.",
            returncode=2,
        )
    if not django_settings.IS_POSTGRES:
        pytest.exit(
            "Grove's tests run on PostgreSQL: use ./scripts/test, or set DATABASE_URL "
            "(for example postgres://postgres@127.0.0.1:5432/grove) and REDIS_URL. "
            "The pure-core tests alone need neither: python -m pytest tests/unit",
            returncode=2,
        )
    if not django_settings.REDIS_URL:
        pytest.exit("Grove's tests need Redis: set REDIS_URL (./scripts/test does).", returncode=2)
    # This process's console flusher (started with the first request through the middleware)
    # would add, every few seconds, the volunteers of every task request made in-process to
    # the suite's Redis: a live server's console (the browser test) then counted earlier
    # tests' users. Paused; a test of the flush calls ``Flusher().flush`` itself.
    django_settings.GROVE_CONSOLE_FLUSH_SECONDS = 0
    if hasattr(session.config, "workerinput") and not os.environ.get(parallel.APPLIED_VARIABLE):
        pytest.exit(
            "In parallel (pytest-xdist) every worker needs a Redis database of its own: "
            "load tests/parallel.py with -p tests.parallel (./scripts/test does).",
            returncode=2,
        )
    refusals = redis_refusals(django_settings, allow_db0=os.environ.get(ALLOW_DB0_VARIABLE) == "1")
    if refusals:
        pytest.exit("Grove's tests refuse this Redis: " + "; ".join(refusals), returncode=2)
