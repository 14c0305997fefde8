"""The protocol's exception handler: every branch answers in OA's error shape.

Over HTTP where a request to a documented operation can reach the branch (an unsupported
body type, a request without a key); the rest through the handler itself, which is what DRF calls.
"""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.test import APIClient

from frontend_api.v1.errors import OasstErrorCode, protocol_exception_handler
from tests.api.conftest import protocol_user

pytestmark = pytest.mark.django_db


def oa_error(response) -> tuple[int, int]:
    body = response.data if hasattr(response, "data") else response.json()
    assert set(body) >= {"message", "error_code"}, body
    assert isinstance(body["message"], str) and body["message"]
    return response.status_code, body["error_code"]


def test_a_request_without_a_key_is_403_api_client_not_authorized():
    response = APIClient().post("/api/v1/tasks/", {}, format="json")
    assert oa_error(response) == (403, OasstErrorCode.API_CLIENT_NOT_AUTHORIZED)


def test_a_body_that_is_not_json_is_415_in_oa_shape(frontend):
    response = frontend.http.post("/api/v1/tasks/", "a=b", content_type="text/plain")
    assert oa_error(response) == (415, OasstErrorCode.GENERIC_ERROR)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (drf.NotAuthenticated(), (403, OasstErrorCode.API_CLIENT_NOT_AUTHORIZED)),
        (drf.AuthenticationFailed("bad key"), (403, OasstErrorCode.API_CLIENT_NOT_AUTHORIZED)),
        (PermissionDenied(), (403, OasstErrorCode.API_CLIENT_NOT_AUTHORIZED)),
        (drf.PermissionDenied("trusted only"), (403, OasstErrorCode.API_CLIENT_NOT_AUTHORIZED)),
        (Http404(), (404, OasstErrorCode.GENERIC_ERROR)),
        (drf.NotFound(), (404, OasstErrorCode.GENERIC_ERROR)),
        (drf.MethodNotAllowed("PATCH"), (405, OasstErrorCode.GENERIC_ERROR)),
        (drf.ParseError("bad json"), (400, OasstErrorCode.GENERIC_ERROR)),
    ],
)
def test_each_framework_error_maps_to_its_status_and_code(exc, expected):
    assert oa_error(protocol_exception_handler(exc, {})) == expected


def test_an_unexpected_error_is_a_logged_500_without_its_details(caplog):
    with caplog.at_level(logging.ERROR):
        response = protocol_exception_handler(RuntimeError("secret detail"), {"view": object()})
    assert oa_error(response) == (500, OasstErrorCode.SERVER_ERROR0)
    assert "secret detail" not in response.data["message"]
    assert any("event=unhandled_error" in r.getMessage() for r in caplog.records)


def test_an_unexpected_error_in_a_view_answers_500_in_oa_shape_over_http(frontend, monkeypatch):
    """The catch-all over HTTP: a fault injected in the service (nothing else stands in)."""
    from backend.trees.services import tasks

    def broken(**_kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(tasks, "request_task", broken)
    response = frontend.post("tasks/", {"type": "random", "user": protocol_user("alice")})
    assert oa_error(response) == (500, OasstErrorCode.SERVER_ERROR0)
    assert b"secret detail" not in response.content and b"Traceback" not in response.content
