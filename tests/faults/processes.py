"""Grove's processes and a private Redis, started by a test on ports it holds, to break them.

Everything here runs against the test's own PostgreSQL database and a Redis of its own (a
``redis-server`` on a free port, never the developer's): a test may pause it (SIGSTOP), kill it
or restart it without touching anything that runs beside the suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (connections are refused): a dead service's stand-in."""
    return free_port()


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"gave up after {timeout} s waiting for {what}")


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class PrivateRedis:
    """A ``redis-server`` on a free port, without persistence, that a test may pause or kill."""

    def __init__(self, directory: Path):
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: accepts_connections(self.port), timeout=10, what="redis-server")
        return self

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None


def grove_environment(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The production profile on the given services: this environment's Grove settings dropped."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GROVE_", "CELERY_", "TEST_"))
        and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_TASK_ALWAYS_EAGER="false",
        GROVE_LOG_LEVEL="INFO",
        **extra,
    )
    return env


def start_web(env: dict[str, str], log: Path, *, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """uvicorn (one process, as in production, or ``workers`` of them) on a free port; returns
    it and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "backend.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def up() -> bool:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited with {process.returncode}:\n{log.read_text()}")
        return accepts_connections(port)

    wait_until(up, timeout=START_TIMEOUT_SECONDS, what="uvicorn")
    return process, f"http://127.0.0.1:{port}"


def start_worker(env: dict[str, str], log: Path, *, name: str) -> subprocess.Popen:
    """``celery worker`` for every queue, in a process group of its own (kill -9 takes it
    whole); returns once it is ready."""
    celery = Path(sys.executable).with_name("celery")
    process = subprocess.Popen(
        [
            *(str(celery), "-A", "workers", "worker", "-Q", "tree,stats,export"),
            *("-P", "solo", "-n", f"{name}@localhost", "--without-gossip", "--without-mingle"),
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the worker exited early:\n{log.read_text()}")
        return " ready." in log.read_text()

    wait_until(ready, timeout=START_TIMEOUT_SECONDS, what=f"worker {name}")
    return process


def kill_group(process: subprocess.Popen) -> None:
    """kill -9 of the process and every child it started (its session)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_group(process)
