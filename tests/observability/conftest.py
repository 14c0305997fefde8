"""A frontend with its own API key, as in the API tests (``tests/api/conftest.py``)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.api.conftest import Frontend


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture
def frontend(db) -> Frontend:
    return Frontend()
