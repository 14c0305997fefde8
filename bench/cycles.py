"""Load benchmark of the full task cycle (request → ack → interaction) over HTTP.

    .venv/bin/python bench/cycles.py [--clients 1,16,64] [--rate 100] [--duration 20]
        [--web-workers 2] [--seed-scale 0.015] [--repo ../baseline] [--json out.json]
    .venv/bin/python bench/cycles.py --url http://127.0.0.1:8080 --api-key KEY

By default it starts Grove's production profile itself (``bench/grove_processes.py``: a
scratch PostgreSQL database, uvicorn with N workers, one Celery worker on Redis), seeds
prompts through the protocol so there is work, and then runs:

* closed loop at each client count: every client is a distinct volunteer running cycles
  back to back on its own kept-alive connection; a warm-up is left out of the figures;
* open loop at a fixed arrival rate: cycles start on schedule whatever the server does, and
  latency counts from the scheduled start, so a slow server cannot hide its queue
  (coordinated omission).

Per phase it reports cycles/s, p50/p95/p99 per call, the task mix against the availability,
errors by status and OA error code, SQL statements per call (``X-Grove-Queries``, from
``backend/query_count.py``; "unavailable" on a server without it) and the CPU used by the
driver and by the servers, so a saturated driver is visible rather than mistaken for Grove.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import statistics
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import machine
from bench.cycle_client import Cycle, Volunteer
from bench.grove_processes import GroveServers, git_commit, psql_row
from bench.texts import realistic_texts

ROOT = Path(__file__).resolve().parent.parent
CALLS = ("task_request", "ack", "interaction")
BENCH_KEY = "bench-cycles-key-0123456789abcdef"


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summarize(name: str, cycles: list[Cycle], seconds: float, cpu: dict, availability: dict):
    """The figures of one phase, as a JSON-ready dict."""
    latency, queries = {}, {}
    for call_name in CALLS:
        calls = [c for cycle in cycles for c in cycle.calls if c.name == call_name]
        ms = [c.ms for c in calls]
        latency[call_name] = {
            "count": len(ms),
            **{f"p{p}": percentile(ms, p / 100) for p in (50, 95, 99)},
        }
        counted = [c.queries for c in calls if c.queries is not None]
        queries[call_name] = (
            {"median": statistics.median(counted), "max": max(counted)} if counted else None
        )
    from_schedule = [c.ms_from_schedule for c in cycles if c.completed]
    errors = Counter(
        f"{c.name} {c.status}/{c.error_code}"
        for cycle in cycles
        for c in cycle.calls
        if c.status >= 400 and not cycle.no_task
    )
    completed = sum(c.completed for c in cycles)
    return {
        "phase": name,
        "seconds": round(seconds, 2),
        "cycles_started": len(cycles),
        "cycles_completed": completed,
        "cycles_per_s": round(completed / seconds, 2),
        "no_task": sum(c.no_task for c in cycles),
        "task_mix": dict(Counter(c.task_type for c in cycles if c.task_type).most_common()),
        "availability_before": availability,
        "latency_ms": latency,
        "cycle_ms": {f"p{p}": percentile(from_schedule, p / 100) for p in (50, 95, 99)},
        "errors": dict(errors.most_common()),
        "queries": queries,
        "cpu": cpu,
    }


def closed_loop(volunteers: list[Volunteer], duration: float, warmup: float) -> list[Cycle]:
    """Every volunteer runs cycles back to back; cycles started in the warm-up are dropped."""
    start = time.monotonic()
    measured_from, stop_at = start + warmup, start + warmup + duration
    results: list[Cycle] = []

    def run(volunteer: Volunteer) -> None:
        while (now := time.monotonic()) < stop_at:
            cycle = volunteer.cycle(now)
            if now >= measured_from:
                results.append(cycle)

    _run_threads(run, volunteers)
    return results


def open_loop(
    volunteers: list[Volunteer], rate: float, duration: float, warmup: float
) -> list[Cycle]:
    """Cycle i is due at start + i/rate; a free volunteer takes the next due cycle.

    Latency is measured from the due time, so when every volunteer is busy the wait for
    one shows in the figures instead of silently lowering the offered rate.
    """
    start = time.monotonic() + 0.1
    measured_from, stop_at = start + warmup, start + warmup + duration
    due = itertools.count()
    results: list[Cycle] = []

    def run(volunteer: Volunteer) -> None:
        while (scheduled := start + next(due) / rate) < stop_at:
            time.sleep(max(0.0, scheduled - time.monotonic()))
            cycle = volunteer.cycle(scheduled)
            if scheduled >= measured_from:
                results.append(cycle)

    _run_threads(run, volunteers)
    return results


def _run_threads(target, volunteers: list[Volunteer]) -> None:
    threads = [threading.Thread(target=target, args=(v,), daemon=True) for v in volunteers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for volunteer in volunteers:
        volunteer.close()


# A tree-growth configuration with room for 10,000 growing trees and prompts in review:
# with OA's defaults (10 active trees, 100 prompts in review) a few dozen volunteers working
# back to back run out of work in seconds, and "no task" answers are measured instead of the
# dispatch.
PLENTY = {
    "max_active_trees": 10_000,
    "max_initial_prompt_review": 10_000,
    "max_prompt_lottery_waiting": 10_000,
}


def set_config(url: str, api_key: str, values: dict, *, comment: str) -> None:
    """Change the active tree-growth configuration through the admin API."""
    request = urllib.request.Request(
        f"{url}/api/v1/admin/tree_growth_config",
        data=json.dumps({"values": values, "comment": comment}).encode(),
        headers={"X-API-Key": api_key, "Content-Type": "application/json"},
        method="PATCH",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200, response.status


def run_phases(args, url: str, api_key: str, servers: GroveServers | None) -> list[dict]:
    texts = realistic_texts()
    if args.plenty:
        set_config(url, api_key, PLENTY, comment="bench/cycles.py --plenty")
    seeders = [Volunteer(url, api_key, f"seeder-{i}", texts, args.seed + i) for i in range(5)]
    seeded = sum(seeders[i % 5].write_prompt() for i in range(args.prompts))
    print(f"seeded {seeded} prompts through the protocol")
    phases = [(f"closed {n} clients", n, None) for n in args.clients]
    if args.rate:
        phases.append((f"open {args.rate:g}/s", args.open_clients, args.rate))
    reports = []
    for index, (name, count, rate) in enumerate(phases):
        volunteers = [
            Volunteer(url, api_key, f"p{index}-v{i}", texts, args.seed * 1000 + index * 100 + i)
            for i in range(count)
        ]
        availability = _availability(volunteers[0])
        cpu_before, wal_before = _cpu(servers), _wal(servers)
        started = time.monotonic()
        if rate is None:
            cycles = closed_loop(volunteers, args.duration, args.warmup)
        else:
            cycles = open_loop(volunteers, rate, args.duration, args.warmup)
        wall = time.monotonic() - started
        cpu_after, wal_after = _cpu(servers), _wal(servers)
        cpu = {
            key: round(100 * (cpu_after[key] - cpu_before[key]) / wall, 1)
            for key in cpu_after
            if key in cpu_before
        }
        # Measured time runs to the last completion: an open loop that fell behind drains
        # its queue after the schedule ends, and that time counts.
        measured = wall - args.warmup
        reports.append(
            summarize(name, cycles, measured, {"percent_of_one_core": cpu}, availability)
        )
        per_cycle = _per_cycle(wal_before, wal_after, cycles)
        if per_cycle is not None:
            reports[-1]["buffers_per_cycle"] = per_cycle.pop("buffers")
        reports[-1]["wal_per_cycle"] = per_cycle
        print_phase(reports[-1])
    return reports


def _availability(volunteer: Volunteer) -> dict:
    call, body = volunteer.post("availability", "/api/v1/tasks/availability?lang=en", {})
    return body if call.status == 200 else {"error": call.status}


def _cpu(servers: GroveServers | None) -> dict[str, float]:
    cpu = {"driver": time.process_time()}
    if servers is not None:
        cpu.update(servers.cpu_seconds())
    return cpu


WAL_QUERY = (
    "SELECT wal_records, wal_fpi, wal_bytes, (SELECT blks_hit + blks_read FROM"
    " pg_stat_database WHERE datname = '{database}') FROM pg_stat_wal"
)


def _wal(servers: GroveServers | None) -> dict[str, int] | None:
    """PostgreSQL's WAL written so far (``pg_stat_wal``, the whole server) and the buffers
    read in the bench's database (``pg_stat_database``: shared buffer hits and reads, what
    its statements read): counts per cycle that the machine's noise does not move, unlike its
    CPU. (Backends report their buffer counts within about a second: a phase's edges blur.)"""
    if servers is None:
        return None
    records, fpi, size, buffers = (
        int(v or 0) for v in psql_row(WAL_QUERY.format(database=servers.database))
    )
    return {"records": records, "full_page_images": fpi, "bytes": size, "buffers": buffers}


def _per_cycle(before: dict | None, after: dict | None, cycles: list[Cycle]) -> dict | None:
    completed = sum(c.completed for c in cycles)
    if before is None or after is None or not completed:
        return None
    return {key: round((after[key] - before[key]) / completed, 1) for key in after}


def print_phase(report: dict) -> None:
    print(
        f"\n== {report['phase']}: {report['cycles_per_s']} cycles/s "
        f"({report['cycles_completed']} of {report['cycles_started']} completed, "
        f"{report['no_task']} no task)"
    )
    for call_name, figures in report["latency_ms"].items():
        q = report["queries"][call_name]
        queries = f"queries median {q['median']} max {q['max']}" if q else "queries unavailable"
        line = " ".join(
            f"{k} {v:.1f}" for k, v in figures.items() if k != "count" and v is not None
        )
        print(f"  {call_name:<13} n={figures['count']:<6} ms: {line}   {queries}")
    cycle = " ".join(f"{k} {v:.1f}" for k, v in report["cycle_ms"].items() if v is not None)
    print(f"  cycle (from start or schedule) ms: {cycle}")
    print(f"  task mix: {report['task_mix']}")
    print(f"  availability before: {report['availability_before']}")
    print(f"  errors: {report['errors'] or 'none'}")
    print(f"  CPU, % of one core: {report['cpu']['percent_of_one_core']}")
    if report.get("wal_per_cycle"):
        print(f"  WAL per completed cycle (whole server): {report['wal_per_cycle']}")
        print(f"  buffers read per completed cycle (its database): {report['buffers_per_cycle']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,16,64", help="closed-loop client counts")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds left out per phase")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop cycles/s (0: skip)")
    parser.add_argument("--open-clients", type=int, default=100, help="open-loop volunteers")
    parser.add_argument("--prompts", type=int, default=60, help="prompts seeded via the API")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=2,
        help="pool processes of the one Celery worker (docker-compose's worker runs -c 2)",
    )
    parser.add_argument(
        "--db-conn-max-age", type=int, default=0, help="GROVE_DB_CONN_MAX_AGE of the servers"
    )
    parser.add_argument("--seed-scale", type=float, default=None, help="seed_scale.py --scale")
    parser.add_argument(
        "--plenty",
        action="store_true",
        help="before seeding, set a tree-growth config with room for 10,000 growing trees and "
        "prompts in review (PLENTY), so that no phase runs out of work",
    )
    parser.add_argument("--database", default="grove_bench_cycles")
    parser.add_argument(
        "--reuse-database", action="store_true", help="keep --database as it is (no drop/seed)"
    )
    parser.add_argument("--repo", type=Path, default=ROOT, help="Grove checkout to serve")
    parser.add_argument("--url", help="an already running Grove (no servers started)")
    parser.add_argument("--api-key", help="its API key (with --url)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for the servers (repeatable), e.g. a GROVE_ setting",
    )
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",") if n]
    if args.url and not args.api_key:
        parser.error("--url needs --api-key")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C does, so the servers we started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    repo = args.repo.resolve()
    pace = machine.pace_ms()
    print(f"machine pace: sum(range(10**7)) in {pace} ms (lower is faster)")
    if args.url:
        reports = run_phases(args, args.url, args.api_key, None)
    else:
        servers = GroveServers(
            repo=repo,
            database=args.database,
            api_key=BENCH_KEY,
            web_workers=args.web_workers,
            worker_concurrency=args.worker_concurrency,
            seed_scale=args.seed_scale,
            seed=args.seed,
            db_conn_max_age=args.db_conn_max_age,
            reuse=args.reuse_database,
            extra_env=dict(item.split("=", 1) for item in args.env),
        )
        with servers:
            print(f"serving {repo} ({git_commit(repo)}) at {servers.url}")
            reports = run_phases(args, servers.url, servers.api_key, servers)
    if args.json:
        result = {
            "machine": machine.describe(pace),
            "target": {
                "repo": str(repo),
                "commit": None if args.url else git_commit(repo),
                "url": args.url,
                "web_workers": args.web_workers,
                "worker_concurrency": args.worker_concurrency,
                "seed_scale": args.seed_scale,
                "plenty": args.plenty,
            },
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "phases": reports,
        }
        args.json.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
