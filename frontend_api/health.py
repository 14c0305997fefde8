"""Health probes: ``/health/live`` (is this process serving?), ``/health/ready`` (can it serve
volunteers: dependencies up and no migration pending?) and ``/health`` (the dependencies
only, the original probe, kept for the clients and compose files that use it).

A liveness probe that fails gets the process restarted, so ``/health/live`` checks nothing
outside the process: a database outage must not restart every web process. Readiness takes a
process out of a load balancer's rotation while it cannot work.

The checks run side by side in a small pool of their own and the answer waits for them at most
``HEALTH_DEADLINE_SECONDS``: a dependency that has not answered by then (a paused Redis or
PostgreSQL accepts the connection and never replies) is reported down and the answer is 503,
in time for a load balancer's or compose's probe. A check still stuck holds one of the pool's
threads until its own timeout; with every thread stuck, later checks report "no answer" too.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views import View

HEALTH_DEADLINE_SECONDS = 2.0
# Once every migration is applied, the answer is kept this long: a process's migrations only
# change when someone runs ``migrate`` (or rolls one back) under it.
MIGRATIONS_APPLIED_CACHE_SECONDS = 60.0
BROKER_TIMEOUT_SECONDS = 1.5
_checks = ThreadPoolExecutor(max_workers=6, thread_name_prefix="grove-health")


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says why
        return {"ok": False, "error": str(exc)}
    finally:
        connection.close()  # back to the pool: this thread serves no request
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    from workers.celery import app

    if app.conf.task_always_eager:
        return {"ok": True, "mode": "eager"}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            if conn.transport.driver_type == "redis":
                conn.default_channel.client.ping()  # a paused Redis accepts, never answers
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


async def _round_trip_within_deadline(layer) -> None:
    await asyncio.wait_for(_round_trip(layer), timeout=HEALTH_DEADLINE_SECONDS)


def check_channel_layer() -> dict:
    layer = get_channel_layer()
    backend = type(layer).__name__
    try:
        async_to_sync(_round_trip_within_deadline)(layer)
    except Exception as exc:
        return {"ok": False, "backend": backend, "error": str(exc) or type(exc).__name__}
    return {"ok": True, "backend": backend}


_migrations_applied_until = 0.0
_migrations_lock = threading.Lock()


def check_migrations() -> dict:
    """Down while a migration of this code is not applied to the database (``migrate``)."""
    global _migrations_applied_until
    if time.monotonic() < _migrations_applied_until:
        return {"ok": True, "pending": 0}
    try:
        with _migrations_lock:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return {"ok": False, "error": str(exc)}
    finally:
        connection.close()
    if plan:
        pending = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
        return {"ok": False, "pending": len(pending), "first": pending[0]}
    _migrations_applied_until = time.monotonic() + MIGRATIONS_APPLIED_CACHE_SECONDS
    return {"ok": True, "pending": 0}


CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "channel_layer": check_channel_layer,
}
READINESS_CHECKS = {**CHECKS, "migrations": check_migrations}


def run_checks(deadline: float = HEALTH_DEADLINE_SECONDS, checks: dict = CHECKS) -> dict[str, dict]:
    """Every check's result; one that has not answered within ``deadline`` is down."""
    futures = {name: _checks.submit(check) for name, check in checks.items()}
    wait_for_futures(futures.values(), timeout=deadline)
    return {
        name: (
            future.result()
            if future.done()
            else {"ok": False, "error": f"no answer within {deadline} s"}
        )
        for name, future in futures.items()
    }


class HealthView(View):
    """200 when every dependency answers, 503 (same body) when one does not."""

    checks = CHECKS

    def get(self, request):
        started = time.monotonic()
        checks = run_checks(checks=self.checks)
        healthy = all(check["ok"] for check in checks.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "checks": checks,
            "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
        }
        return JsonResponse(body, status=200 if healthy else 503)


class ReadinessView(HealthView):
    """``/health/ready``: the dependencies and the migrations; 503 while any is not ready."""

    checks = READINESS_CHECKS


class LivenessView(View):
    """``/health/live``: 200 as long as the process answers HTTP; it checks nothing else."""

    def get(self, request):
        return JsonResponse({"status": "ok"})
