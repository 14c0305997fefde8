"""Suite-wide setup: the suite runs on the real PostgreSQL and Redis (see scripts/test)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    if not settings.IS_POSTGRES:
        pytest.exit(
            "Grove's tests run on PostgreSQL: use ./scripts/test, or set DATABASE_URL "
            "(for example postgres://postgres@127.0.0.1:5432/grove) and REDIS_URL.",
            returncode=2,
        )
    if not settings.REDIS_URL:
        pytest.exit("Grove's tests need Redis: set REDIS_URL (./scripts/test does).", returncode=2)
