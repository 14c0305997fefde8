"""/api/v1/auth/check, and the OA endpoints Grove answers with 501."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

NOT_IMPLEMENTED = ["login/discord", "callback/discord", "hf/text_toxicity"]


def test_auth_check_answers_200_for_a_valid_key(frontend):
    frontend.client_row.admin_email = "ops@example.org"
    frontend.client_row.save()
    response = frontend.get("auth/check")
    assert response.status_code == 200
    assert response.json() == "ops@example.org"


def test_auth_check_without_admin_email_answers_json_null(frontend):
    response = frontend.get("auth/check")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b"null"


def test_auth_check_refuses_a_missing_or_unknown_key(client):
    assert client.get("/api/v1/auth/check").status_code == 403
    response = client.get("/api/v1/auth/check", HTTP_X_API_KEY="not-a-key")
    assert response.status_code == 403
    assert response.json()["error_code"] == 2


@pytest.mark.parametrize("path", NOT_IMPLEMENTED)
def test_left_out_oa_endpoints_answer_501_in_oa_shape(trusted_frontend, path):
    response = trusted_frontend.get(path, msg="hello")
    assert response.status_code == 501
    body = response.json()
    assert set(body) == {"message", "error_code"}
    assert body["error_code"] == 501
    assert "not implemented" in body["message"]


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png;q=1"])
def test_protocol_answers_json_whatever_the_accept_header_asks(frontend, accept):
    """OA (FastAPI) answers JSON whatever a client's Accept says; DRF's negotiation refused a
    request naming no JSON type with 406, which no OA client expects. The protocol has one
    representation, so the header is not read at all (also a cost: parsing it was 2-4 % of a
    web process's samples at 16 clients)."""
    response = frontend.http.post(
        "/api/v1/tasks/",
        {"type": "random", "user": {"id": "ann", "display_name": "Ann", "auth_method": "local"}},
        format="json",
        HTTP_ACCEPT=accept,
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["type"] == "initial_prompt"
