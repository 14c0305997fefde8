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


def test_health_answers_503_when_the_broker_is_unreachable(client, settings):
    from workers.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/health")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
