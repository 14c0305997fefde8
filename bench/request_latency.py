"""request_task latency in the service (no HTTP), on whatever database DATABASE_URL names.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grove_bench_scale \\
        CELERY_TASK_ALWAYS_EAGER=true .venv/bin/python bench/request_latency.py --requests 60

Compares a forest at OA's scale (``seed_scale.py --scale 1.0``) with a small one
(``--scale 0.015``): random users of the database ask for a random task each; prints p50/p90,
the trees and the ready-work rows of the language. Tasks it hands out stay in the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--lang", default="en")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import django

    django.setup()
    from backend.accounts.models import User
    from backend.trees.core.policy import NoTaskAvailable, TaskKind
    from backend.trees.models import MessageTree, ReadyWork
    from backend.trees.services.tasks import request_task

    users = list(User.objects.order_by("?")[: args.requests])
    latencies, handed = [], 0
    for user in users:
        started = time.perf_counter()
        try:
            request_task(
                user=user, kind=TaskKind.RANDOM, lang=args.lang, api_client=user.api_client
            )
            handed += 1
        except NoTaskAvailable:
            pass
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    print(
        f"trees {MessageTree.objects.count()}, ready-work rows in {args.lang} "
        f"{ReadyWork.objects.filter(lang=args.lang).count()}, tasks handed out {handed} of "
        f"{len(latencies)}: p50 {statistics.median(latencies):.1f} ms, "
        f"p90 {latencies[int(len(latencies) * 0.9) - 1]:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
