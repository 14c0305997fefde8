"""request_task latency and statements in the service (no HTTP), across databases, interleaved.

    .venv/bin/python bench/request_latency.py --requests 200 --rounds 3 \\
        --database-url postgres://postgres@127.0.0.1:5432/grove_bench_scale_small \\
        --database-url postgres://postgres@127.0.0.1:5432/grove_bench_scale_big

Compares a forest at OA's scale (``seed_scale.py --scale 1.0``) with a small one
(``--scale 0.015``). Each round runs one child process per database, in alternating order:
random users of the database ask for a random task each (``--warmup`` requests first, not
counted), timed one by one. Every task handed out is deleted again outside the timing (with
its journal entry), so runs leave the database as they found it and no run sees an earlier
run's leases or pending tasks. Prints, per database and round: p50/p95 ms, the SQL
statements each request sent (min/median/max: the count must not depend on the forest), the
task mix handed out; with ``--pgss`` (the database has the pg_stat_statements extension) the
statements' mean execution time and buffers, read from this database's counters only.
``--json`` writes every figure.

``--http`` sends each request as ``POST /api/v1/tasks/`` through Django's whole stack in the
process (test client, no server), so the statements counted are the protocol call's (the
user, the read, the claim, the task's conversation). It gives the seeded API client a known
key first: use it on scratch databases only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", action="append", default=[], dest="urls")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pgss", action="store_true", help="report pg_stat_statements")
    parser.add_argument("--http", action="store_true", help="POST /api/v1/tasks/ in process")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.urls:
        args.urls = [os.environ["DATABASE_URL"]]
    return args


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def child(args: argparse.Namespace) -> dict:
    """One run on DATABASE_URL: the figures as a dict."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    if args.http:
        os.environ.update(
            GROVE_LOG_LEVEL="WARNING",
            GROVE_THROTTLE_USER="1000000/minute",
            GROVE_THROTTLE_CLIENT="100000000/minute",
            GROVE_ALLOWED_HOSTS="testserver",
        )
    import random

    import django

    django.setup()
    from django.db import connection

    from backend.accounts.models import User
    from backend.trees.core.policy import NoTaskAvailable, TaskKind
    from backend.trees.models import MessageTree, ReadyWork, Task
    from backend.trees.services.tasks import request_task

    ask = request_task
    if args.http:
        ask = http_request(args.lang)

    rng = random.Random(args.seed)
    ids = list(User.objects.filter(api_client__isnull=False).values_list("id", flat=True))
    users = [User.objects.select_related("api_client").get(id=i) for i in rng.sample(ids, min(
        len(ids), args.requests + args.warmup))]  # fmt: skip
    sent = [0]

    def count(execute, sql, params, many, context):
        sent[0] += 1
        return execute(sql, params, many, context)

    def forget(task) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM trees_journalentry WHERE event_type = 'task_created' "
                "AND user_id = %s AND created_at = %s",
                [task.user_id, task.created_at],
            )
            cursor.execute("DELETE FROM trees_task WHERE id = %s", [task.id])

    latencies, statements, mix = [], [], Counter()
    for i, user in enumerate(users):
        if i == args.warmup and args.pgss:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_stat_statements_reset(0, "
                    "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
                )
        sent[0] = 0
        task = None
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            with contextlib.suppress(NoTaskAvailable):
                task = ask(
                    user=user, kind=TaskKind.RANDOM, lang=args.lang, api_client=user.api_client
                )
            elapsed = (time.perf_counter() - started) * 1000
        if isinstance(task, str):
            task = Task.objects.get(id=task)
        if task is not None:
            forget(task)
        if i < args.warmup:
            continue
        latencies.append(elapsed)
        statements.append(sent[0])
        mix[task.payload_type if task is not None else "none"] += 1
    figures = {
        "database": connection.settings_dict["NAME"],
        "trees": MessageTree.objects.count(),
        "ready_rows": ReadyWork.objects.filter(lang=args.lang, slots__gt=0).count(),
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "latencies": latencies,
        "statements": statements,
        "mix": dict(mix),
    }
    if args.pgss:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT calls, round(mean_exec_time::numeric, 3), "
                "round(mean_plan_time::numeric, 3), shared_blks_hit / greatest(calls, 1), "
                "shared_blks_read / greatest(calls, 1), left(regexp_replace(query, '\\s+', ' ', "
                "'g'), 90) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                "WHERE datname = current_database()) AND query NOT LIKE '%%pg_stat_statements%%' "
                "AND query NOT LIKE 'DELETE FROM trees_%%' ORDER BY total_exec_time DESC LIMIT 8"
            )
            figures["pgss"] = cursor.fetchall()
    return figures


HTTP_KEY = "bench-request-latency-key-0123456789"


def http_request(lang: str):
    """``request_task``'s stand-in that asks over the protocol: returns the task's id."""
    from django.test import Client

    from backend.accounts.models import ApiClient
    from backend.accounts.services import digest_api_key
    from backend.trees.core.policy import NoTaskAvailable

    ApiClient.objects.update(api_key_digest=digest_api_key(HTTP_KEY))  # scratch databases only
    client = Client()

    def ask(*, user, kind, lang, api_client):
        who = {"id": user.username, "display_name": user.display_name, "auth_method": "local"}
        who["auth_method"] = user.auth_method
        response = client.post(
            "/api/v1/tasks/",
            {"type": kind.value, "user": who, "lang": lang},
            content_type="application/json",
            HTTP_X_API_KEY=HTTP_KEY,
        )
        if response.status_code != 200:
            raise NoTaskAvailable(kind, response.content.decode()[:200])
        return response.json()["id"]

    return ask


def report(run: dict, round_no: int) -> None:
    counts = sorted(run["statements"])
    print(
        f"round {round_no} {run['database']}: trees {run['trees']}, ready rows "
        f"{run['ready_rows']}: p50 {run['p50']:.2f} ms, p95 {run['p95']:.2f} ms; statements "
        f"per request min/median/max {counts[0]}/{statistics.median(counts):g}/{counts[-1]}; "
        f"mix {json.dumps(run['mix'], sort_keys=True)}"
    )
    for calls, mean, plan, hit, read, query in run.get("pgss", []):
        print(
            f"    {calls:>5} calls  exec {mean} ms  plan {plan} ms  hit {hit} read {read}  {query}"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args), default=str))
        return 0
    runs: list[dict] = []
    for round_no in range(1, args.rounds + 1):
        order = args.urls if round_no % 2 else list(reversed(args.urls))
        for url in order:
            command = [sys.executable, __file__, "--child", *sys.argv[1:]]
            env = {**os.environ, "DATABASE_URL": url, "CELERY_TASK_ALWAYS_EAGER": "true"}
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                sys.stderr.write(done.stderr)
                return done.returncode
            run = json.loads(done.stdout.strip().splitlines()[-1])
            run["round"] = round_no
            runs.append(run)
            report(run, round_no)
    by_db: dict[str, list[dict]] = {}
    for run in runs:
        by_db.setdefault(run["database"], []).append(run)
    print("\nper database over the rounds: p50 / p95 ms, statements per request")
    for name, its in by_db.items():
        counts = Counter(n for run in its for n in run["statements"])
        p50s = ", ".join(f"{run['p50']:.2f}" for run in its)
        p95s = ", ".join(f"{run['p95']:.2f}" for run in its)
        print(f"  {name}: p50 {p50s}; p95 {p95s}; statements {dict(sorted(counts.items()))}")
    if len(by_db) == 2:
        (small, a), (big, b) = sorted(by_db.items(), key=lambda item: item[1][0]["trees"])
        ratios = [y["p50"] / x["p50"] for x, y in zip(a, b, strict=False)]
        print(f"  p50 ratio {big} / {small} per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
