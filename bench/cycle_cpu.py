"""CPU per task cycle, in one process: where the web and job time of a cycle goes.

    .venv/bin/python bench/cycle_cpu.py [--cycles 600] [--volunteers 16] [--profile out.prof]

Drives the same cycle as ``cycles.py`` (``POST /tasks/`` random → ack → interaction, answered
by ``bench/cycle_client.Volunteer``) through Django's whole request stack (middleware, DRF,
services) with Django's test client, on a scratch PostgreSQL database (``grove_bench_cpu``,
dropped and created; ``--database-url`` to name another server) and Redis db 13, jobs
eager (each advance job runs in the request that enqueued it, and is counted apart). No
HTTP server, no thread switches: the figures are CPU seconds of this process
(``time.process_time``), so a busy machine changes them far less than wall-clock rates.

Prints, per call: CPU ms p50/mean and SQL statements p50/max; per cycle: the web CPU (the
three calls less the jobs they ran) and the jobs' CPU. ``--profile`` writes a cProfile of
the measured cycles (open it with ``python -m pstats`` or snakeviz). ``--time`` wraps named
functions (``module:Qualified.name``, comma-separated) and prints the CPU ms per cycle spent
inside each (inclusive): sampling profilers here over-count the frames around socket waits,
and cProfile's per-call cost inflates small functions, so this is how a part's share is read.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_KEY = "bench-cycle-cpu-key-0123456789abcdef"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--volunteers", type=int, default=16)
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", help="write a cProfile of the measured cycles here")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print the SQL statements of the last measured call of each kind",
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/grove_bench_cpu"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--pg-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for the scratch database (ALTER DATABASE ... SET), e.g. "
        "plan_cache_mode=force_generic_plan",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE the scratch database after the warm-up (as autovacuum would keep it; "
        "without statistics the planner may take the wrong index of a growing table)",
    )
    parser.add_argument(
        "--time",
        default="",
        help="functions to time, e.g. frontend_api.v1.throttling:RedisCounters.hit,...",
    )
    return parser.parse_args(argv)


def fresh_database(url: str, settings: list[str] = ()) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    statements = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"']
    for setting in settings:
        key, _, value = setting.partition("=")
        statements.append(f'ALTER DATABASE "{name}" SET {key} = {value}')
    for sql in statements:
        subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)


class Timed:
    """CPU seconds spent inside each named function (outermost call only, so recursion or a
    function calling itself through others is counted once)."""

    def __init__(self, names: list[str]):
        import importlib

        self.totals = dict.fromkeys(names, 0.0)
        self.calls = dict.fromkeys(names, 0)
        for name in names:
            module_name, _, qualname = name.partition(":")
            owner = importlib.import_module(module_name)
            *path, attr = qualname.split(".")
            for part in path:
                owner = getattr(owner, part)
            setattr(owner, attr, self._wrap(name, getattr(owner, attr)))

    def _wrap(self, name, function):
        import functools

        depth = [0]

        @functools.wraps(function)
        def timed(*args, **kwargs):
            depth[0] += 1
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    self.totals[name] += time.process_time() - started
                    self.calls[name] += 1

        return timed

    def reset(self) -> None:
        self.totals = dict.fromkeys(self.totals, 0.0)
        self.calls = dict.fromkeys(self.calls, 0)

    def report(self, cycles: int) -> None:
        for name, total in self.totals.items():
            print(
                f"  {name:70} {total * 1000 / cycles:6.2f} ms/cycle "
                f"({self.calls[name] / cycles:.2f} calls/cycle)"
            )


def jobs_cpu_marker(job_cpu: list[float], before: float) -> bool:
    """Whether the call ran a job (``--statements`` keeps the last such call of each kind)."""
    return sum(job_cpu) > before


class InProcessVolunteer:
    """``cycle_client.Volunteer``'s cycle over Django's test client; each call's CPU kept."""

    def __init__(self, client, volunteer, job_cpu: list[float], statements: dict | None):
        self.client = client
        self.volunteer = volunteer
        self.job_cpu = job_cpu
        self.statements = statements  # call name -> the last call's SQL, when asked for
        volunteer.post = self.post  # the volunteer's cycle and answers, this transport

    def post(self, name, path, body):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from bench.cycle_client import QUERY_HEADER, Call

        jobs_before = sum(self.job_cpu)
        capture = CaptureQueriesContext(connection)
        if self.statements is not None:
            capture.__enter__()
        started = time.process_time()
        response = self.client.post(
            path, body, content_type="application/json", HTTP_X_API_KEY=BENCH_KEY
        )
        cpu_ms = (time.process_time() - started) * 1000
        if self.statements is not None:
            capture.__exit__(None, None, None)
            wanted = os.environ.get("GROVE_BENCH_SQL_OF")  # keep the last call at least this long
            if wanted:
                if len(capture.captured_queries) >= int(wanted):
                    self.statements[name] = [q["sql"] for q in capture.captured_queries]
            elif name not in self.statements or jobs_cpu_marker(self.job_cpu, jobs_before):
                self.statements[name] = [query["sql"] for query in capture.captured_queries]
        jobs_ms = (sum(self.job_cpu) - jobs_before) * 1000
        data = response.json() if response.content else {}
        code = data.get("error_code") if response.status_code >= 400 else None
        queries = int(response[QUERY_HEADER])
        call = Call(name, started, cpu_ms - jobs_ms, response.status_code, code, queries)
        call.jobs_ms = jobs_ms
        return call, data


def main(argv=None) -> int:
    args = parse_args(argv)
    fresh_database(args.database_url, args.pg_set)
    os.environ.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        CELERY_TASK_ALWAYS_EAGER="true",
        GROVE_LOG_LEVEL="WARNING",
        GROVE_THROTTLE_USER="1000000/minute",
        GROVE_THROTTLE_CLIENT="100000000/minute",
        GROVE_ALLOWED_HOSTS="testserver",
        GROVE_QUERY_COUNT_HEADER="true",
        DJANGO_SETTINGS_MODULE="backend.settings",
    )
    import django
    from asgiref.sync import sync_to_async

    django.setup()
    from celery.signals import task_postrun, task_prerun
    from django.core.management import call_command
    from django.test import Client

    from backend.accounts.services import create_api_client
    from bench.cycle_client import Volunteer
    from bench.texts import realistic_texts

    call_command("migrate", verbosity=0)
    create_api_client(name="bench", trusted=True, frontend_type="bench", api_key=BENCH_KEY)
    job_cpu: list[float] = []
    job_started: dict[str, float] = {}
    # Celery keeps weak references to receivers unless told otherwise.
    task_prerun.connect(
        lambda task_id, **_: job_started.__setitem__(task_id, time.process_time()), weak=False
    )
    task_postrun.connect(
        lambda task_id, **_: job_cpu.append(time.process_time() - job_started.pop(task_id)),
        weak=False,
    )

    timed = Timed([name for name in args.time.split(",") if name])
    client = Client()
    texts = realistic_texts()
    statements: dict[str, list[str]] | None = {} if args.statements else None
    people = [
        InProcessVolunteer(
            client,
            Volunteer("http://unused", BENCH_KEY, f"v{i}", texts, args.seed + i),
            job_cpu,
            statements,
        )
        for i in range(args.volunteers)
    ]
    for i in range(args.prompts):
        people[i % len(people)].volunteer.write_prompt()

    # CPU time, as the figures: waiting on PostgreSQL or Redis is not counted.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    calls: dict[str, list] = {"task_request": [], "ack": [], "interaction": []}
    kinds: dict[str, int] = {}
    # As under the server (``backend/http_bridge.py``): requests run in a worker thread of an
    # event loop, so a channel-layer push goes to that loop, not to a new loop per push.
    backends = BackendCpu(args.database_url)
    by_kind: dict[str, list] = {}  # task type -> its interactions
    asyncio.run(
        sync_to_async(measure, thread_sensitive=False)(
            args, people, profiler, calls, kinds, timed, backends, by_kind
        )
    )
    pg_seconds = backends.seconds()
    report(args, calls, kinds)
    print(f"  PostgreSQL backends' CPU per cycle: {pg_seconds * 1000 / args.cycles:.2f} ms")
    print("  interaction by task type: n, web CPU ms mean, jobs ms mean, SQL p50 (jobs included)")
    for kind, answers in sorted(by_kind.items()):
        print(
            f"    {kind:24} {len(answers):4}  {statistics.fmean(c.ms for c in answers):5.2f}  "
            f"{statistics.fmean(c.jobs_ms for c in answers):5.2f}  "
            f"{statistics.median(c.queries for c in answers):4.1f}"
        )
    timed.report(args.cycles)
    for name, sqls in (statements or {}).items():
        print(f"\n{name}: {len(sqls)} statements (jobs run in the call included)")
        width = int(os.environ.get("GROVE_BENCH_SQL_WIDTH", "160"))
        for sql in sqls:
            print("  " + " ".join(sql.split())[:width])
    return 0


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving the scratch database (``/proc``), read
    through a connection of its own that is left out: the server's share of a cycle."""

    def __init__(self, url: str):
        import psycopg

        self.name = url.rsplit("/", 1)[1]
        self.connection = psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)
        self.started: dict[int, float] = {}

    def _now(self) -> dict[int, float]:
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.name,),
        ).fetchall()
        ticks = os.sysconf("SC_CLK_TCK")
        seconds = {}
        for (pid,) in rows:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # not on this machine, or gone
                continue
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return seconds

    def start(self) -> None:
        self.started = self._now()

    def seconds(self) -> float:
        """Since ``start``; a backend opened since then counts from its start."""
        return sum(cpu - self.started.get(pid, 0.0) for pid, cpu in self._now().items())


def measure(args, people, profiler, calls, kinds, timed, backends, by_kind) -> None:
    for n in range(args.warmup + args.cycles):
        measured = n >= args.warmup
        if n == args.warmup:
            if args.analyze:
                from django.db import connection

                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            timed.reset()
            backends.start()
        if measured and profiler and n == args.warmup:
            profiler.enable()
        cycle = people[n % len(people)].volunteer.cycle(0.0)
        if not measured:
            continue
        if cycle.task_type:
            kinds[cycle.task_type] = kinds.get(cycle.task_type, 0) + 1
            answer = [c for c in cycle.calls if c.name == "interaction"]
            if answer:
                by_kind.setdefault(cycle.task_type, []).append(answer[0])
        for call in cycle.calls:
            calls[call.name].append(call)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)


def report(args, calls, kinds) -> None:
    print(f"{args.cycles} cycles measured after {args.warmup}; task mix {kinds}")
    web_total = jobs_total = 0.0
    for name, done in calls.items():
        cpu = [c.ms for c in done]
        jobs = [c.jobs_ms for c in done]
        sql = [c.queries for c in done]
        statuses = sorted({c.status for c in done})
        web_total += sum(cpu)
        jobs_total += sum(jobs)
        print(
            f"  {name:13} n={len(done):4}  web CPU ms p50 {statistics.median(cpu):5.2f} "
            f"mean {statistics.fmean(cpu):5.2f}  jobs ms mean {statistics.fmean(jobs):5.2f}  "
            f"SQL p50 {statistics.median(sql):4.1f} max {max(sql):3}  status {statuses}"
        )
    print(
        f"  per cycle: web CPU {web_total / args.cycles:.2f} ms, "
        f"jobs CPU {jobs_total / args.cycles:.2f} ms"
    )


if __name__ == "__main__":
    raise SystemExit(main())
