"""POST /api/v1/ws_tickets/: the REST side of browser websocket tickets."""

from __future__ import annotations

import pytest

from backend.accounts.socket_tickets import redeem_ticket

pytestmark = pytest.mark.django_db


def test_a_ticket_is_issued_to_the_calling_client_and_never_cached_by_proxies(frontend):
    response = frontend.post("ws_tickets/")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"ticket", "expires_in"} and body["expires_in"] == 60
    assert redeem_ticket(body["ticket"]) == frontend.client_row.id
    assert redeem_ticket(body["ticket"]) is None  # single use


def test_every_call_issues_a_new_ticket(frontend):
    first, second = (frontend.post("ws_tickets/").json()["ticket"] for _ in range(2))
    assert first != second


def test_a_ticket_needs_an_api_key(client):
    response = client.post("/api/v1/ws_tickets/")
    assert response.status_code == 403
    assert response.json()["error_code"] == 2
