"""Grove's processes and a private Redis, started by a test on ports it holds, to break them.

Everything here runs against the test's own PostgreSQL database and a Redis of its own (a
``redis-server`` on a free port, never the developer's): a test may pause it (SIGSTOP), kill it
or restart it without touching anything that runs beside the suite.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


class PrivatePostgres:
    """A PostgreSQL server of the test's own (``initdb`` into a temporary directory, a free
    port, no Unix socket) that it may pause (SIGSTOP to every server process), kill or
    restart: never the developer's cluster. As root, the server runs as the ``postgres``
    system user (``initdb`` refuses root); the directory is not under pytest's ``tmp_path``,
    which that user cannot enter."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = found[-1] if found else shutil.which("initdb")
        if initdb is None:
            pytest.skip("PostgreSQL's initdb is not installed")
        self.bin = Path(initdb).parent
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres").pw_name
            except KeyError:
                pytest.skip("initdb refuses root and there is no postgres user to run it")
        self.directory = Path(tempfile.mkdtemp(prefix="grove-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        if self.user is not None:
            shutil.chown(self.directory, self.user, self.user)
        initdb_done = subprocess.run(
            [
                str(self.bin / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"),
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            user=self.user,
        )
        if initdb_done.returncode != 0:
            shutil.rmtree(self.directory, ignore_errors=True)
            pytest.fail(f"initdb failed:\n{initdb_done.stdout}{initdb_done.stderr}")

    def url(self, database: str = "grove") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivatePostgres:
        log = (self.directory / "server.log").open("a")
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                *("-D", str(self.data), "-p", str(self.port), "-k", ""),
                *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
                *("-c", "max_connections=60", "-c", "shared_buffers=16MB"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=self.user,
            start_new_session=True,
        )
        wait_until(self._ready, timeout=30, what="the private PostgreSQL")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"postgres exited:\n{(self.directory / 'server.log').read_text()}")
        ready = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"],
            capture_output=True,
        )
        return ready.returncode == 0

    def pause(self) -> None:
        """SIGSTOP the server, then every backend (each leads a process group of its own,
        so signalling the server's group does not reach them): the kernel still accepts
        connections and takes what clients send; no process answers."""
        self._signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, sig: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)  # first, so it starts no backend meanwhile
        for pid in self._backends():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _backends(self) -> list[int]:
        assert self.process is not None
        listed = subprocess.run(
            ["ps", "--ppid", str(self.process.pid), "-o", "pid="],
            capture_output=True,
            text=True,
        )
        return [int(pid) for pid in listed.stdout.split()]

    def crash(self) -> None:
        """Immediate shutdown (SIGQUIT): every session ends at once, uncommitted work is
        lost, the next start recovers from the WAL."""
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)


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
