"""Start and stop Grove's production profile for a benchmark: PostgreSQL, uvicorn, Celery.

``GroveServers`` recreates a scratch database, migrates it, creates the trusted API client
(``bootstrap_api_client`` with a known key), optionally seeds OA's scale into it
(``bench/seed_scale.py``), then serves it with uvicorn (N worker processes) and ONE Celery
worker on Redis, as ``docker-compose.yml`` does. Every process runs in a session of its own
so that ``stop`` can end it with its children (uvicorn's workers, Celery's pool), and the
context manager stops them on any exit, Ctrl-C included.

``repo`` may be another checkout of Grove (say a baseline commit): its own ``.venv`` is
used when it has one, so one driver can measure two versions with the same load.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SERVER_START_SECONDS = 60
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def repo_python(repo: Path) -> str:
    """The checkout's own interpreter when it has a virtualenv, else the current one."""
    own = repo / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def rebuild_ready_work(repo: Path, env: dict) -> bool:
    """Run ``manage.py rebuild_ready_work`` when the checkout has it (older ones do not)."""
    manage = [repo_python(repo), "manage.py"]
    commands = subprocess.run(
        [*manage, "help", "--commands"], cwd=repo, env=env, capture_output=True, text=True
    ).stdout.split()
    if "rebuild_ready_work" not in commands:
        return False
    subprocess.run([*manage, "rebuild_ready_work"], cwd=repo, env=env, check=True)
    return True


def git_commit(repo: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres"]


def psql(sql: str) -> None:
    subprocess.run([*_PSQL, "-qc", sql], check=True)


def psql_row(sql: str) -> list[str]:
    """The first row ``sql`` answers, its values as text."""
    answer = subprocess.run([*_PSQL, "-Atc", sql], capture_output=True, text=True, check=True)
    return answer.stdout.splitlines()[0].split("|")


def process_group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (from /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After "pid (comm)": state ppid pgrp ... utime is field 14, stime 15 (1-based).
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def command_cpu_seconds(name: str) -> dict[int, float]:
    """User + system CPU of each live process whose command name is ``name``, by pid (the
    shared PostgreSQL or Redis: their use includes whatever else talks to them meanwhile)."""
    used = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1] == name:
            fields = tail.split()
            used[int(head.split(" ", 1)[0])] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


@dataclass
class GroveServers:
    """The servers of one benchmark run; use as a context manager."""

    repo: Path
    database: str
    api_key: str
    web_workers: int = 2
    # The worker's pool processes: 2 as docker-compose's worker runs (``-c 2``).
    worker_concurrency: int = 2
    redis_url: str = "redis://127.0.0.1:6379/12"
    seed_scale: float | None = None
    seed: int = 1
    db_conn_max_age: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    shared_cpu: dict[tuple[str, int], float] = field(default_factory=dict)
    reuse: bool = False
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{self.database}"

    def environment(self) -> dict[str, str]:
        """Production profile: PostgreSQL, Celery on Redis (not eager), quiet logs.

        The throttle is set far above any load we generate: it is not what we measure.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("GROVE_", "CELERY_", "DJANGO_")) and key != "REDIS_URL"
        }
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            CELERY_TASK_ALWAYS_EAGER="false",
            GROVE_BOOTSTRAP_API_KEY=self.api_key,
            GROVE_LOG_LEVEL="WARNING",
            GROVE_DB_CONN_MAX_AGE=str(self.db_conn_max_age),
            GROVE_THROTTLE_USER="1000000/minute",
            GROVE_THROTTLE_CLIENT="100000000/minute",
            GROVE_QUERY_COUNT_HEADER="true",
            GROVE_VAR_DIR=f"/tmp/{self.database}-var",
        )
        env.update(self.extra_env)
        return env

    def __enter__(self) -> GroveServers:
        try:
            self.prepare_database()
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [repo_python(self.repo), "manage.py", *args],
            cwd=self.repo,
            env=self.environment(),
            check=True,
            capture_output=True,
            text=True,
        )

    def prepare_database(self) -> None:
        """Drop and create the scratch database, migrate, create the trusted client, seed.

        With ``reuse`` the database is kept (say one seeded at OA's scale): it is migrated
        and gets a trusted client of its own, whose key replaces ``api_key``.
        """
        # Jobs left in the broker by an earlier run name trees of a dropped database.
        subprocess.run(
            ["redis-cli", "-u", self.redis_url, "FLUSHDB"], check=True, capture_output=True
        )
        if self.reuse:
            self.manage("migrate", "--noinput", "-v0")
            rebuild_ready_work(self.repo, self.environment())
            issued = self.manage("create_api_client", f"bench-{self.port}", "--trusted")
            self.api_key = issued.stdout.rsplit(":", 1)[1].strip()
            return
        psql(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
        psql(f"CREATE DATABASE {self.database}")
        self.manage("migrate", "--noinput", "-v0")
        # Before seed_scale: the bootstrap client is created only when no client exists yet.
        self.manage("bootstrap_api_client")
        if self.seed_scale:
            subprocess.run(
                [
                    sys.executable,
                    str(BENCH_DIR / "seed_scale.py"),
                    "--database-url",
                    self.database_url,
                    "--scale",
                    str(self.seed_scale),
                    "--seed",
                    str(self.seed),
                    "--repo",
                    str(self.repo),
                ],
                check=True,
            )

    def start(self) -> None:
        python = repo_python(self.repo)
        # GROVE_BENCH_WEB_PROFILE=out.txt samples the web processes with py-spy (collapsed
        # stacks; attaching to a running process is refused on some machines, a child is not).
        profile = os.environ.get("GROVE_BENCH_WEB_PROFILE")
        # GROVE_BENCH_WEB_PROFILE_GIL=0 samples every thread on a CPU instead of the GIL's holder
        # (a holder descheduled on a saturated box is sampled too, in whatever call it waits).
        gil = os.environ.get("GROVE_BENCH_WEB_PROFILE_GIL", "1") != "0"
        spy = [
            str(Path(python).parent / "py-spy"),
            "record",
            "--subprocesses",
            *(["--gil"] if gil else []),
            "-r",
            "100",
        ]
        self._spawn(
            "web",
            [
                *([*spy, "-f", "raw", "-o", profile, "--"] if profile else []),
                *(python, "-m", "uvicorn", "backend.asgi:application", "--host", "127.0.0.1"),
                *("--port", str(self.port), "--workers", str(self.web_workers)),
                *("--log-level", "warning", "--lifespan", "off"),
            ],
        )
        self._spawn(
            "worker",
            [
                *(python, "-m", "celery", "-A", "workers", "worker", "-Q", "tree,stats,export"),
                *("--concurrency", str(self.worker_concurrency), "-l", "warning"),
            ],
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.processes["web"].poll() is not None:
                raise RuntimeError("uvicorn exited during start-up")
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"Grove did not answer {self.url}/health in {SERVER_START_SECONDS}s")

    def _spawn(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(
            command, cwd=self.repo, env=self.environment(), start_new_session=True
        )

    def cpu_seconds(self) -> dict[str, float]:
        """CPU used so far by each server (all processes of its group)."""
        used = {name: process_group_cpu_seconds(p.pid) for name, p in self.processes.items()}
        for name, command in (("postgres", "postgres"), ("redis", "redis-server")):
            # A backend that exits takes its CPU with it: keep the last figure of every pid
            # seen, so the total never goes down between two readings.
            for pid, seconds in command_cpu_seconds(command).items():
                self.shared_cpu[name, pid] = seconds
            used[name] = sum(v for (seen, _pid), v in self.shared_cpu.items() if seen == name)
        return used

    def stop(self) -> None:
        """SIGTERM each server (warm shutdown), SIGKILL what is left of its group after 10 s.

        Only the leader gets SIGTERM: uvicorn then stops its workers and Celery finishes the
        job at hand, where a signal to the whole group would kill the job mid-way.
        """
        for process in self.processes.values():
            if process.poll() is None:
                # py-spy writes its profile on SIGINT only; uvicorn stops on either.
                profiling = os.environ.get("GROVE_BENCH_WEB_PROFILE")
                process.send_signal(signal.SIGINT if profiling else signal.SIGTERM)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            # Our own group only: children that outlived their parent (a pool process).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes.clear()
