"""Label efficiency: human actions per exported tree and decision accuracy against a hidden truth.

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE grove_labels_sim"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grove_labels_sim \\
        CELERY_TASK_ALWAYS_EAGER=true .venv/bin/python bench/label_efficiency.py \\
        --population reliable noisy30 spam10 --policy oa grove --trees 200 \\
        --json var/label_efficiency.json

For each population and policy: migrates and flushes the (scratch!) database, applies the
policy's tree-growth config over OA's defaults, runs ``bench.label_world`` (volunteers with
hidden traits through Grove's services, simulated clock, seeded) until ``--trees`` trees are
exported, then prints one table and writes every measure as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

# Named policies: tree-growth config changes over OA's defaults (goal size 12, 3 reviews,
# 3 rankings). "oa" is OA's fixed policy, Grove's default.
POLICIES: dict[str, dict] = {
    "oa": {},
    "sequential": {"review_policy": "sequential", "ranking_policy": "adaptive"},
    # What bench/README.md measures as Grove's adaptive policy: one review can decide when
    # its reviewer's estimated skill makes the posterior reach 0.98, and reviewers whose
    # estimate is poor are handed messages with a review already before first reviews
    # (routing, since the eighth session; runs before it: routing 0).
    "grove": {
        "review_policy": "sequential",
        "min_reviews": 1,
        "review_confidence": 0.98,
        "ranking_policy": "adaptive",
        "first_review_min_informativeness": 0.5,
    },
    # ``grove`` as the sixth session measured it (without routing), drawing the message to
    # review and the parent to rank by the expected information of its next answer instead
    # of uniformly (``selection_policy``).
    "grove_active": {
        "review_policy": "sequential",
        "min_reviews": 1,
        "review_confidence": 0.98,
        "ranking_policy": "adaptive",
        "selection_policy": "active",
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--population", nargs="+", default=["reliable", "noisy30", "spam10"])
    parser.add_argument("--policy", nargs="+", default=["oa"])
    parser.add_argument("--config", default="{}", help="JSON config changes on top of a policy")
    parser.add_argument("--trees", type=int, default=200, help="stop once this many exported")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--volunteers", type=int, default=60)
    parser.add_argument("--noise", type=float, default=0.3, help="label error of noisy ones")
    parser.add_argument("--skip-rate", type=float, default=0.05)
    parser.add_argument(
        "--ranking-model", default="thurstone", choices=["thurstone", "plackett_luce"]
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--table", nargs="+", type=Path, help="only print the table of these JSON reports"
    )
    parser.add_argument(
        "--pool",
        nargs="+",
        type=Path,
        help="only print these JSON reports pooled over seeds (same population, policy, config)",
    )
    args = parser.parse_args()
    if args.pool:
        print(format_table(pool_reports(args.pool)))
        return 0
    if args.table:
        runs = {}
        for path in args.table:
            runs.update(json.loads(path.read_text())["runs"])
        print(format_table(dict(sorted(runs.items()))))
        return 0

    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command

    from backend.trees.growth_config import update_config
    from bench import truth
    from bench.label_world import make_world, seeded_ids

    _fast_commits()
    call_command("migrate", verbosity=0)
    extra = json.loads(args.config)
    reports = {}
    for policy in args.policy:
        for population in args.population:
            call_command("flush", interactive=False, verbosity=0)
            update_config(changes={**POLICIES[policy], **extra}, author="bench/label_efficiency")
            label = f"{population}/{policy}"
            started = time.perf_counter()
            with seeded_ids(args.seed):
                world = make_world(
                    population,
                    volunteers=args.volunteers,
                    seed=args.seed,
                    noise=args.noise,
                    skip_rate=args.skip_rate,
                    ranking_model=truth.RankingModel(args.ranking_model),
                )
                world.run(
                    trees=args.trees,
                    max_steps=args.max_steps,
                    progress=None if args.quiet else _progress_bar(label, args.trees),
                )
            report = world.report()
            report["wall_seconds"] = round(time.perf_counter() - started, 1)
            report["config"] = {**POLICIES[policy], **extra}
            reports[label] = report
            if not args.quiet:
                sys.stderr.write("\n")
            if args.json:  # after every run: a long series keeps what it measured
                _write_json(args, reports)
    print(format_table(reports))
    return 0


def _fast_commits() -> None:
    """Commits to this (scratch) database do not wait for the disk: the same transactions and
    statements, without the fsync per commit that made about half of a step's wall time.
    Set on the database, then the pool is closed so that every session opened afterwards
    has it."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


def _write_json(args: argparse.Namespace, reports: dict) -> None:
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "quiet", "table")}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    body = {"settings": settings, "runs": reports}
    args.json.write_text(json.dumps(body, indent=1, default=str))


def _progress_bar(label: str, goal: int):
    last = [0.0]

    def show(world) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5:
            return
        last[0] = now
        done = len(world.exported_at)
        filled = int(30 * done / goal) if goal else 30
        sys.stderr.write(
            f"\r{label:22} [{'#' * filled}{'.' * (30 - filled)}] {done}/{goal} trees, "
            f"{world.steps} steps"
        )
        sys.stderr.flush()

    return show


ROWS = [
    ("trees exported", lambda r: r["trees_exported"]),
    ("answers / tree, seed min", lambda r: r["seed_spread"][0]),
    ("answers / tree, seed max", lambda r: r["seed_spread"][1]),
    ("answers / exported tree (all)", lambda r: r["answers_per_exported_tree"]),
    ("  on exported trees", lambda r: r["answers_on_exported_trees_per_tree"]),
    ("  prompts", lambda r: r["actions_per_exported_tree"]["prompt"]),
    ("  replies", lambda r: r["actions_per_exported_tree"]["reply"]),
    ("  reviews", lambda r: r["actions_per_exported_tree"]["review"]),
    ("  rankings", lambda r: r["actions_per_exported_tree"]["ranking"]),
    ("  skips", lambda r: r["actions_per_exported_tree"]["skip"]),
    ("trees / 1000 answers", lambda r: r["trees_exported_per_1000_answers"]),
    ("good kept", lambda r: r["review"]["good_kept"]),
    ("  ci95 +-", lambda r: _ci(r["review"]["counts"], "good_kept", "good_rejected")),
    ("spam rejected", lambda r: r["review"]["spam_rejected"]),
    ("  ci95 +-", lambda r: _ci(r["review"]["counts"], "spam_rejected", "spam_accepted")),
    ("rejection precision", lambda r: r["review"]["rejection_precision"]),
    ("review accuracy", lambda r: r["review"]["accuracy"]),
    ("ranking tau", lambda r: r["ranking"]["kendall_tau_mean"]),
    ("  tau ci95 +-", lambda r: r["ranking"]["kendall_tau_ci95"]),
    ("rankings / parent", lambda r: r["ranking"]["rankings_per_parent"]),
    ("accepted msgs / exported tree", lambda r: r["exported_messages"]["accepted_per_tree"]),
    ("answers / accepted msg", lambda r: r["exported_messages"]["answers_per_accepted_message"]),
    ("hidden quality (good, mean)", lambda r: r["exported_messages"]["mean_quality_of_good"]),
    ("spam share of exported", lambda r: r["exported_messages"]["spam_share"]),
    ("hours to export (median)", lambda r: (r["hours_to_export"] or {}).get("median")),
]


def pool_reports(paths: list[Path]) -> dict:
    """Runs of the same population, policy and config over several seeds (one JSON report
    per run) as one: answers and actions per exported tree over all exported trees, decision
    counts summed (the Wilson intervals are then over every decision), the ranking tau
    weighted by parents with its interval from the runs' standard errors, and the spread of
    answers per exported tree between seeds (``seed_spread``: min, max)."""
    groups: dict[str, list[tuple[dict, dict]]] = {}
    for path in paths:
        body = json.loads(path.read_text())
        for label, report in body["runs"].items():
            changed = _changed_from_preset(label.split("/")[-1], report.get("config", {}))
            key = label + (f" {json.dumps(changed)}" if changed else "")
            groups.setdefault(key, []).append((body["settings"], report))
    pooled = {}
    for key, runs in sorted(groups.items()):
        reports = [r for _s, r in runs]
        trees = sum(r["trees_exported"] for r in reports)
        answered = sum(n for r in reports for kind, n in r["actions"].items() if kind != "skip")
        counts = {
            name: sum(r["review"]["counts"][name] for r in reports)
            for name in reports[0]["review"]["counts"]
        }
        good = counts["good_kept"] + counts["good_rejected"]
        spam = counts["spam_rejected"] + counts["spam_accepted"]
        parents = [r["ranking"]["parents"] for r in reports]
        taus = [r["ranking"]["kendall_tau_mean"] for r in reports]
        errors = [(r["ranking"]["kendall_tau_ci95"] or 0.0) / 1.96 for r in reports]
        n = sum(parents)
        per_seed = [r["answers_per_exported_tree"] for r in reports]
        pooled[f"{key} x{len(runs)}"] = {
            "trees_exported": trees,
            "seeds": sorted(s["seed"] for s, _r in runs),
            "seed_spread": [min(per_seed), max(per_seed)],
            "answers_per_exported_tree": _ratio(answered, trees),
            "answers_on_exported_trees_per_tree": _weighted(
                reports, "answers_on_exported_trees_per_tree"
            ),
            "actions_per_exported_tree": {
                kind: _weighted(reports, "actions_per_exported_tree", kind)
                for kind in ("prompt", "reply", "review", "ranking", "skip")
            },
            "trees_exported_per_1000_answers": _ratio(1000 * trees, answered),
            "review": {
                "counts": counts,
                "good_kept": _ratio(counts["good_kept"], good),
                "spam_rejected": _ratio(counts["spam_rejected"], spam),
                "rejection_precision": _ratio(
                    counts["spam_rejected"], counts["spam_rejected"] + counts["good_rejected"]
                ),
                "accuracy": _ratio(counts["good_kept"] + counts["spam_rejected"], good + spam),
            },
            "ranking": {
                "kendall_tau_mean": _ratio(
                    sum(p * t for p, t in zip(parents, taus, strict=True)), n
                ),
                "kendall_tau_ci95": 1.96
                * math.sqrt(sum((p * e) ** 2 for p, e in zip(parents, errors, strict=True)))
                / n
                if n
                else None,
                "rankings_per_parent": _weighted(reports, "ranking", "rankings_per_parent"),
            },
            "exported_messages": {
                "accepted_per_tree": _weighted(reports, "exported_messages", "accepted_per_tree"),
            },
            "wall_seconds": sum(r.get("wall_seconds", 0) for r in reports),
        }
    return pooled


def _changed_from_preset(policy: str, config: dict) -> dict:
    """The settings in which a run's ``config`` (its changes over OA's defaults) differs from
    its policy's preset today. A preset setting the run did not set ran at its default (the
    run predates the setting in the preset), so it counts as changed, at that default."""
    from backend.trees.core.config import TreeManagerConfig

    preset = POLICIES.get(policy, {})
    defaults = TreeManagerConfig()
    ran = {**{k: getattr(defaults, k) for k in preset}, **config}
    return {k: v for k, v in sorted(ran.items()) if preset.get(k) != v}


def _weighted(reports: list[dict], *path: str) -> float | None:
    """A per-exported-tree figure over several runs, weighted by their exported trees."""
    total = weight = 0.0
    for report in reports:
        value = report
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if value is not None:
            total += value * report["trees_exported"]
            weight += report["trees_exported"]
    return total / weight if weight else None


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _ci(counts: dict, hits: str, misses: str) -> float | None:
    """Half-width of the 95 % Wilson interval of hits / (hits + misses)."""
    n = counts[hits] + counts[misses]
    if not n:
        return None
    p, z = counts[hits] / n, 1.96
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def format_table(reports: dict) -> str:
    labels = list(reports)
    width = max([16, *(len(label) + 2 for label in labels)])
    lines = [f"{'':30}" + "".join(f"{label:>{width}}" for label in labels)]
    for name, get in ROWS:
        cells = []
        for label in labels:
            try:
                value = get(reports[label])
            except (KeyError, TypeError):
                value = None
            cells.append(_cell(value, width))
        lines.append(f"{name:30}" + "".join(cells))
    return "\n".join(lines)


def _cell(value, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.3f}" if abs(value) < 10 else f"{value:>{width}.1f}"
    return f"{value:>{width}}"


if __name__ == "__main__":
    sys.exit(main())
