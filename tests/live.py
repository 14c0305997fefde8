"""Helpers for tests that start real Grove processes against the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test run uses (``test_...``)."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


test_database_url.__test__ = False  # not a test, whatever its name says


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A uvicorn process's start is CPU-bound (importing Django, DRF, Channels): ~3 s alone, ~10 s
# for four processes at once at load 8 on two cores, past 30 s for four at load 15-20.
START_SECONDS_PER_PROCESS = 15.0
MIN_START_SECONDS = 30.0
MAX_START_SECONDS = 300.0


def start_deadline_seconds(workers: int, load_per_cpu: float | None = None) -> float:
    """How long a server of ``workers`` processes may take to answer ``/health``: longer for
    more processes and on a busier machine (1-minute load per CPU above 1). Only a server that
    hangs waits it out: one that exits is reported at once."""
    if load_per_cpu is None:
        load_per_cpu = os.getloadavg()[0] / (os.cpu_count() or 1)
    seconds = max(MIN_START_SECONDS, START_SECONDS_PER_PROCESS * workers)
    return min(MAX_START_SECONDS, seconds * max(1.0, load_per_cpu))


@contextlib.contextmanager
def serve_grove(*, workers: int = 1, **env_overrides: str) -> Iterator[int]:
    """uvicorn serving Grove on a free port against this test run's database; the port.

    Runs in its own process group, stopped (with every worker) when the block ends."""
    with grove_server(workers=workers, **env_overrides) as server:
        yield server.port


@dataclass
class LiveServer:
    port: int
    process: subprocess.Popen


@contextlib.contextmanager
def grove_server(
    *, workers: int = 1, graceful_seconds: int | None = 5, **env_overrides: str
) -> Iterator[LiveServer]:
    """``serve_grove``, giving the uvicorn process too (a test may stop it itself);
    ``graceful_seconds=None`` lets uvicorn's graceful shutdown take as long as it takes."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        **env_overrides,
    }
    env.pop("GROVE_TEST_DB_NAME", None)
    uvicorn = Path(sys.executable).with_name("uvicorn")
    # GROVE_TEST_SERVER_LOG=<file>: keep the servers' output there (to debug a live test).
    log_path = os.environ.get("GROVE_TEST_SERVER_LOG")
    output = open(log_path, "a") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            *(str(uvicorn), "backend.asgi:application", "--port", str(port)),
            *("--workers", str(workers), "--log-level", "info" if log_path else "warning"),
            # Past 5 s, stop what still runs: with ~10 websockets closed on one process, a
            # worker's graceful shutdown waited for its socket tasks for good (channels 4.3,
            # channels-redis 4.3, uvicorn 0.54; with or without push dispatch).
            *("--lifespan", "off"),
            *(("--timeout-graceful-shutdown", str(graceful_seconds)) if graceful_seconds else ()),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=output,
        stderr=output,
    )
    try:
        started = time.monotonic()
        allowed = start_deadline_seconds(workers)
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"the web server exited with {process.returncode} before answering"
                    ) from None
                if time.monotonic() - started > allowed:
                    raise RuntimeError(
                        f"the web server ({workers} process(es)) did not answer /health within "
                        f"{allowed:.0f} s (load {os.getloadavg()[0]:.1f})"
                    ) from None
                time.sleep(0.2)
        yield LiveServer(port, process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
