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


def test_liveness_answers_without_asking_any_dependency(client, monkeypatch):
    from frontend_api import health

    def fail():
        raise AssertionError("liveness must not check dependencies")

    monkeypatch.setattr(health, "run_checks", fail)
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_reports_dependencies_and_migrations(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert set(checks) == {"database", "broker", "channel_layer", "migrations"}
    assert checks["migrations"] == {"ok": True, "pending": 0}


def test_readiness_answers_503_when_the_broker_is_unreachable(client):
    from workers.celery import app

    original, eager = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    try:
        response = client.get("/health/ready")
    finally:
        app.conf.broker_url, app.conf.task_always_eager = original, eager
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_readiness_answers_503_when_the_channel_layer_is_unreachable(client, settings):
    from tests.faults.processes import closed_port

    down = f"redis://127.0.0.1:{closed_port()}/0"
    layer = settings.CHANNEL_LAYERS["default"]
    # A new CHANNEL_LAYERS makes Channels build its layer anew (and again when restored).
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {"hosts": [down]}}}

    response = client.get("/health/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["channel_layer"]["ok"] is False
    assert checks["database"]["ok"] is True


# Committed rows (the check reads the migration table from its own connection); serialized
# rollback as every transactional test here, or the next one's reload finds duplicates.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_readiness_answers_503_while_a_migration_is_pending(client, monkeypatch):
    from django.db.migrations.recorder import MigrationRecorder

    from frontend_api import health

    monkeypatch.setattr(health, "_migrations_applied_until", 0.0)
    newest = MigrationRecorder.Migration.objects.filter(app="trees").order_by("-id").first()
    newest.delete()  # as if the code were newer than the database
    try:
        response = client.get("/health/ready")
    finally:
        MigrationRecorder.Migration.objects.create(app=newest.app, name=newest.name)
    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations["ok"] is False
    assert migrations["first"] == f"trees.{newest.name}"
    # /health keeps its contract: the dependencies only.
    assert client.get("/health").status_code == 200
