"""GET /health reports database, broker and channel layer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_every_dependency_up(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["channel_layer"] == {"ok": True, "backend": "RedisChannelLayer"}


def test_health_answers_503_when_the_broker_is_unreachable(client):
    from workers.celery import app

    original, eager = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    try:
        response = client.get("/health")
    finally:
        app.conf.broker_url, app.conf.task_always_eager = original, eager
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
