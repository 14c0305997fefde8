"""``GET /health``: is each service Grove depends on reachable from this process?"""

from __future__ import annotations

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views import View

BROKER_TIMEOUT_SECONDS = 2.0


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says why
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager"}
    from workers.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"ok": False, "mode": "broker", "error": str(exc)}
    return {"ok": True, "mode": "broker"}


async def _round_trip(layer) -> None:
    channel = await layer.new_channel("health.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned a different message")


def check_channel_layer() -> dict:
    layer = get_channel_layer()
    backend = type(layer).__name__
    try:
        async_to_sync(_round_trip)(layer)
    except Exception as exc:
        return {"ok": False, "backend": backend, "error": str(exc)}
    return {"ok": True, "backend": backend}


class HealthView(View):
    """200 when every dependency answers, 503 (same body) when one does not."""

    def get(self, request):
        started = time.monotonic()
        checks = {
            "database": check_database(),
            "broker": check_broker(),
            "channel_layer": check_channel_layer(),
        }
        healthy = all(check["ok"] for check in checks.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "checks": checks,
            "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
        }
        return JsonResponse(body, status=200 if healthy else 503)
