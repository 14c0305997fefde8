"""Throughput of the tree engine under simulated volunteers (services, one process).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grove_sim CELERY_TASK_ALWAYS_EAGER=true \\
        .venv/bin/python bench/simulate.py --volunteers 50 --steps 2000

Migrates the (scratch) database, runs the volunteers of ``bench/volunteers.py`` with small
trees, and prints steps per second, what the volunteers did and the final tree states.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--volunteers", type=int, default=50)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)
    from django.core.management import call_command

    from backend.trees.growth_config import update_config
    from backend.trees.models import MessageTree
    from bench.volunteers import make_volunteers

    call_command("migrate", verbosity=0)
    update_config(
        changes={"goal_tree_size": 6, "min_goal_tree_size": 6, "max_active_trees": 10},
        author="bench/simulate.py",
    )
    volunteers = make_volunteers(args.volunteers, seed=args.seed)
    started = time.perf_counter()
    for _ in range(args.steps):
        volunteers.step()
    elapsed = time.perf_counter() - started
    print(f"{args.steps} steps in {elapsed:.1f}s: {args.steps / elapsed:.1f} steps/s")
    print("outcomes:", dict(volunteers.outcomes.most_common()))
    print("tree states:", dict(Counter(MessageTree.objects.values_list("state", flat=True))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
