"""``/metrics``: who may read it, and the request metrics every answer adds."""

from __future__ import annotations

import pytest

from tests.observability.scraping import scrape, value

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789"


def test_metrics_are_served_to_a_loopback_peer(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "grove_http_requests_total" in response.content.decode()


def test_metrics_are_not_found_from_another_network_without_the_token(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 404
    assert b"grove_" not in response.content


def test_a_loopback_request_that_came_through_a_proxy_is_refused(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 404


def test_the_bearer_token_opens_metrics_from_anywhere(client, settings):
    settings.GROVE_METRICS_TOKEN = TOKEN
    response = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 404


def test_allowed_networks_are_configurable(client, settings):
    import ipaddress

    settings.GROVE_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_requests_are_counted_by_route_pattern_method_and_status(client):
    route = "health/live"
    before = scrape(client)
    client.get("/health/live")
    client.get("/health/live")
    client.get("/no/such/page/123")
    after = scrape(client)
    labels = {"route": route, "method": "GET"}
    assert (
        value(after, "grove_http_requests_total", status="200", **labels)
        - value(before, "grove_http_requests_total", status="200", **labels)
        == 2
    )
    assert (
        value(after, "grove_http_request_duration_seconds_count", **labels)
        - value(before, "grove_http_request_duration_seconds_count", **labels)
        == 2
    )
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "404"}
    assert value(after, "grove_http_requests_total", **unmatched) > value(
        before, "grove_http_requests_total", **unmatched
    )


def test_a_route_with_an_id_is_one_series_for_every_id(frontend):
    import uuid

    for _ in range(2):
        frontend.post(f"tasks/{uuid.uuid4()}/ack", {"message_id": "m"})
    text = scrape(frontend.http)
    assert "api/v1/tasks/<uuid:task_id>/ack" in text
    assert '/ack"' not in text.replace('<uuid:task_id>/ack"', "")


def test_an_unknown_method_does_not_become_a_label(client):
    client.generic("BREW", "/health/live")
    text = scrape(client)
    assert 'method="BREW"' not in text
    assert (
        value(text, "grove_http_requests_total", route="health/live", method="other", status="405")
        >= 1
    )


def test_every_answer_carries_a_request_id(client):
    first = client.get("/health/live")["X-Request-ID"]
    second = client.get("/health/live")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_plausible_incoming_request_id_is_kept_and_a_strange_one_replaced(client):
    assert (
        client.get("/health/live", HTTP_X_REQUEST_ID="lb-7f3a.42")["X-Request-ID"] == "lb-7f3a.42"
    )
    replaced = client.get("/health/live", HTTP_X_REQUEST_ID="bad id\nInjected: 1")
    assert replaced["X-Request-ID"] != "bad id\nInjected: 1"


def test_the_pool_sampler_reports_this_process_pool(client, settings):
    from backend.observability.pool import PoolSampler, existing_pool

    client.get("/health/ready")  # the database check takes a pooled connection
    pool = existing_pool()
    if pool is None:
        pytest.skip("the connection pool is off (GROVE_DB_POOL=false)")
    PoolSampler().sample()
    text = scrape(client)
    assert value(text, "grove_db_pool_connections", state="max") == pool.max_size
    assert value(text, "grove_db_pool_connections", state="open") >= 1
