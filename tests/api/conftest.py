"""Fixtures for talking to the v1 API as a frontend would."""

from __future__ import annotations

import itertools
import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from backend.accounts.services import create_api_client
from tests.api.observed_statuses import record_statuses

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture(autouse=True)
def _observed_statuses(monkeypatch, request):
    """Every API test notes the statuses it saw (``test_openapi_statuses`` checks them)."""
    record_statuses(monkeypatch, request.node.nodeid)


STATUS_CHECK = "test_every_status_observed_in_the_api_tests_is_declared"


def pytest_collection_modifyitems(session, config, items):
    """The status check runs last, after every API test has recorded what it saw."""
    last = [item for item in items if item.name == STATUS_CHECK]
    items[:] = [item for item in items if item.name != STATUS_CHECK] + last


OPENAPI_TYPE = "application/vnd.oai.openapi+json"


def assert_oa_body(response) -> None:
    """OA's clients read every answer but a 204 as JSON (the website calls ``resp.json()``):
    each 2xx other than 204 must be ``application/json`` and parse; a 204 has no body."""
    if response.status_code == 204:
        assert response.content == b"", response.content
    elif 200 <= response.status_code < 300:
        path, content_type = response.request["PATH_INFO"], response.get("Content-Type")
        # The OpenAPI document (not a protocol body) has its own JSON media type.
        expected = OPENAPI_TYPE if path.endswith("/openapi.json") else "application/json"
        assert content_type == expected, (path, content_type)
        json.loads(response.content)


class Frontend:
    """A frontend with its own API key; ``post``/``get`` send it, ``as_user`` names users.

    Every answer it gets is checked against OA's body contract (``assert_oa_body``), so the
    whole API suite is the contract test of the 2xx bodies."""

    def __init__(self, *, trusted: bool = False):
        issued = create_api_client(name=f"frontend-{next(_ids)}", trusted=trusted)
        self.client_row = issued.client
        self.key = issued.api_key
        self.http = APIClient()
        self.http.credentials(HTTP_X_API_KEY=self.key)

    def post(self, path: str, body=None, *, user: str | None = None, **query):
        headers = {"HTTP_X_OASST_USER": user} if user else {}
        return _checked(self.http.post(_url(path, query), body, format="json", **headers))

    def get(self, path: str, *, user: str | None = None, **query):
        headers = {"HTTP_X_OASST_USER": user} if user else {}
        return _checked(self.http.get(_url(path, query), **headers))

    def put(self, path: str, body=None, **query):
        return _checked(self.http.put(_url(path, query), body, format="json"))

    def delete(self, path: str, **query):
        return _checked(self.http.delete(_url(path, query)))


def _checked(response):
    assert_oa_body(response)
    return response


def _url(path: str, query: dict) -> str:
    from urllib.parse import urlencode

    url = f"/api/v1/{path.lstrip('/')}"
    return f"{url}?{urlencode(query)}" if query else url


def protocol_user(name: str, auth_method: str = "local") -> dict:
    return {"id": name, "display_name": name.title(), "auth_method": auth_method}


@pytest.fixture
def frontend(db) -> Frontend:
    return Frontend()


@pytest.fixture
def trusted_frontend(db) -> Frontend:
    return Frontend(trusted=True)


@pytest.fixture
def make_frontend(db):
    return Frontend
