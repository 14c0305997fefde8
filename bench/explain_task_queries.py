"""EXPLAIN every query ``request_task`` runs on a large database; fail on a message seq scan.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grove_bench \\
        .venv/bin/python bench/explain_task_queries.py --messages 100000

Creates (or reuses, with --reuse) the database named in DATABASE_URL, fills it with
``bench/forest.py``, then for every task kind captures the SQL of one ``request_task`` call,
runs ``EXPLAIN`` on each SELECT and reports the plan nodes. Exit status 1 when any plan
reads ``trees_message`` with a sequential scan. Also prints request_task latency.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.trees.core.policy import NoTaskAvailable, TaskKind
    from backend.trees.models import Message
    from backend.trees.services.tasks import request_task
    from bench.forest import build_forest

    if connection.vendor != "postgresql":
        print("this benchmark needs PostgreSQL (set DATABASE_URL)")
        return 2
    call_command("migrate", verbosity=0)
    if not (args.reuse and Message.objects.count() >= args.messages):
        started = time.monotonic()
        _client, people = build_forest(messages=args.messages)
        print(f"seeded {Message.objects.count()} messages in {time.monotonic() - started:.1f}s")
    call_command("rebuild_ready_work", stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    from backend.accounts.models import User

    people = list(User.objects.filter(username__startswith="b")[:500])
    seq_scans = []
    for kind in TaskKind:
        user = random.Random(kind.value).choice(people)
        with CaptureQueriesContext(connection) as ctx:
            try:
                request_task(user=user, kind=kind, lang="en", rng=random.Random(1))
                outcome = "task"
            except NoTaskAvailable:
                outcome = "no task"
        selects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("SELECT")]
        print(f"\n{kind.value}: {len(ctx.captured_queries)} queries ({outcome})")
        for sql in selects:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            scans = [
                line.strip() for line in plan.splitlines() if "Scan" in line and " on " in line
            ]
            for scan in scans:
                print(f"   {scan.split('  (')[0][:110]}")
            if any("Seq Scan on trees_message " in s + " " for s in scans):
                seq_scans.append((kind.value, sql[:200]))
    latencies = []
    rng = random.Random(2)
    for _ in range(args.requests):
        user = rng.choice(people)
        started = time.perf_counter()
        with contextlib.suppress(NoTaskAvailable):
            request_task(user=user, kind=TaskKind.RANDOM, lang="en", rng=rng)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    print(
        f"\nrequest_task(random) over {len(latencies)} calls: "
        f"p50 {statistics.median(latencies):.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1]:.1f} ms, max {latencies[-1]:.1f} ms"
    )
    if seq_scans:
        print("\nSEQUENTIAL SCANS OF trees_message:")
        for kind, sql in seq_scans:
            print(f"  {kind}: {sql}")
        return 1
    print("\nno sequential scan of trees_message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
