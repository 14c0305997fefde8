"""Push-driven task cycles against REST polling, at the same volunteer counts.

    .venv/bin/python bench/push_cycles.py --clients 16,64 --duration 20 --repetitions 3

Starts Grove's production profile (``grove_processes.GroveServers``: a scratch database,
uvicorn with ``--web-workers`` processes, one Celery worker on Redis), seeds ``--prompts``
prompts through the protocol, then runs, for each volunteer count and each repetition, a REST
phase and a push phase (their order rotating between repetitions, as the trees grow):

* REST: ``bench/cycles.py``'s closed loop: each volunteer requests a random task, acks it,
  answers it, back to back, on its own kept-alive connection (3 calls per cycle);
* push (``push-rest``: the same, acked and answered over REST in the same run): each
  volunteer is one SDK ``PushLoop`` (its own socket, opened with a ticket) ready
  for random tasks; a pushed task is acked by the loop and answered by ``--simulate``'s
  ``Answerer``, both as frames on the socket (no REST call per cycle; ``--rest-answers``:
  ack and answer over REST, 2 calls per cycle); the next task comes without a request.

A cycle counts when its answer was stored; the warm-up is left out. Prints cycles/s per phase,
the task mix handed out (the same weighted choice must serve both modes),
errors, and the CPU used by the driver and by each server, so a saturated machine shows.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import json
import random
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk"))

from bench import machine
from bench.cycle_client import Volunteer
from bench.cycles import PLENTY, closed_loop, set_config
from bench.grove_processes import GroveServers, git_commit
from bench.texts import realistic_texts
from grove_sdk import GroveClient, GroveError, PushLoop, User
from grove_sdk.answers import Answerer

ROOT = Path(__file__).resolve().parent.parent
KEY = "push-cycles-bench-key-0123456789abcdef"


def push_loop(
    url: str,
    names: list[str],
    duration: float,
    warmup: float,
    seed: int,
    socket_answers: bool = True,
) -> dict:
    """Every volunteer answers what is pushed to it until the time is up."""
    texts = realistic_texts()
    start = time.monotonic()
    measured_from, stop_at = start + warmup, start + warmup + duration
    done: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    mix: collections.Counter[str] = collections.Counter()

    # A volunteer's loop and the lock it answers under: at the end a loop is closed only
    # between answers. Closing a socket under an answer in flight made the SDK send the answer
    # again over REST, which Grove refused (2105) when the socket's copy had been stored: 1-9
    # such "errors" per phase were the bench's own teardown.
    loops: list[tuple[PushLoop, threading.Lock]] = []
    stopping = threading.Event()

    def run(i: int, name: str) -> None:
        client = GroveClient(url, KEY)
        answerer = Answerer(texts, random.Random(seed * 1000 + i))
        loop = PushLoop(client, [User(name, name)], socket_answers=socket_answers)
        answering = threading.Lock()
        loops.append((loop, answering))
        try:
            for pushed in loop:
                with answering:
                    if stopping.is_set():
                        break
                    try:
                        answerer.answer(pushed)
                        if time.monotonic() >= measured_from:
                            done.append(time.monotonic())
                            mix[pushed.task.get("type", "?")] += 1
                    except GroveError as exc:
                        errors[f"{type(exc).__name__} {exc.error_code}"] += 1
                if time.monotonic() >= stop_at:
                    break
        except GroveError as exc:
            errors[f"loop {type(exc).__name__} {exc.error_code}"] += 1
        finally:
            loop.close()
            client.close()

    threads = [threading.Thread(target=run, args=(i, n), daemon=True) for i, n in enumerate(names)]
    for thread in threads:
        thread.start()
    # A volunteer waiting for a push when the time is up stops waiting.
    time.sleep(max(0.0, stop_at - time.monotonic()))
    stopping.set()
    for loop, answering in list(loops):
        with answering:
            loop.close()
    for thread in threads:
        thread.join()
    counted = [t for t in done if t < stop_at]
    return {"completed": len(counted), "errors": dict(errors), "task_mix": dict(mix)}


def rest_loop(url: str, names: list[str], duration: float, warmup: float, seed: int) -> dict:
    texts = realistic_texts()
    volunteers = [Volunteer(url, KEY, n, texts, seed * 1000 + i) for i, n in enumerate(names)]
    cycles = closed_loop(volunteers, duration, warmup)
    errors = collections.Counter(
        f"{c.name} {c.status}/{c.error_code}"
        for cycle in cycles
        for c in cycle.calls
        if c.status >= 400 and not cycle.no_task
    )
    return {
        "completed": sum(c.completed for c in cycles),
        "no_task": sum(c.no_task for c in cycles),
        "errors": dict(errors),
        "task_mix": dict(collections.Counter(c.task_type for c in cycles if c.completed)),
    }


def phase(mode: str, servers: GroveServers, count: int, rep: int, args) -> dict:
    names = [f"{mode}-{count}-{rep}-v{i}" for i in range(count)]
    if mode == "push":
        run = functools.partial(push_loop, socket_answers=not args.rest_answers)
    elif mode == "push-rest":
        run = functools.partial(push_loop, socket_answers=False)
    else:
        run = rest_loop
    available = GroveClient(servers.url, KEY).task_availability(User(names[0], names[0]))
    cpu_before, wall_started = servers.cpu_seconds(), time.monotonic()
    driver_before = time.process_time()
    result = run(servers.url, names, args.duration, args.warmup, args.seed + rep)
    wall = time.monotonic() - wall_started
    cpu_after = servers.cpu_seconds()
    cpu = {k: round(100 * (cpu_after[k] - cpu_before[k]) / wall, 1) for k in cpu_after}
    cpu["driver"] = round(100 * (time.process_time() - driver_before) / wall, 1)
    report = {
        "mode": mode,
        "volunteers": count,
        "repetition": rep,
        "cycles_per_s": round(result["completed"] / args.duration, 2),
        **result,
        "availability_before": available,
        "cpu_percent_of_one_core": cpu,
    }
    print(
        f"{mode:>9} {count:>3} volunteers, rep {rep}: {report['cycles_per_s']} cycles/s "
        f"(no task {result.get('no_task', '-')}) errors {result['errors'] or 'none'} "
        f"CPU {cpu} available before {available.get('random')}\n"
        f"{'':>10}task mix {_shares(result['task_mix'])}",
        flush=True,
    )
    return report


def _shares(mix: dict[str, int]) -> str:
    """The task mix as percentages, largest first (push and REST must hand out the same)."""
    total = sum(mix.values()) or 1
    return ", ".join(
        f"{kind} {100 * n / total:.0f}%" for kind, n in collections.Counter(mix).most_common()
    )


@contextlib.contextmanager
def served_and_seeded(args):
    """The production profile on a new scratch database, seeded with ``--prompts`` prompts."""
    with GroveServers(
        repo=ROOT,
        database=args.database,
        api_key=KEY,
        web_workers=args.web_workers,
        redis_url=args.redis_url,
        seed_scale=args.seed_scale,
        # A phase's last pushed tasks go back to the pool soon after its sockets close.
        extra_env={"GROVE_PUSH_RESUME_SECONDS": "2", "GROVE_LOG_LEVEL": args.log_level},
    ) as servers:
        print(f"serving {ROOT} ({git_commit(ROOT)}) at {servers.url}")
        if args.plenty:
            set_config(servers.url, KEY, PLENTY, comment="bench/push_cycles.py")
        seeders = [Volunteer(servers.url, KEY, f"seeder-{i}", realistic_texts(), i) for i in (0, 1)]
        seeded = sum(seeders[i % 2].write_prompt() for i in range(args.prompts))
        print(f"seeded {seeded} prompts")
        yield servers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument(
        "--seed-scale", type=float, help="seed_scale.py --scale: a forest with work for all"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--database", default="grove_bench_push_cycles")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument(
        "--plenty",
        action="store_true",
        help="tree-growth config with room for 10,000 growing trees and prompts in review: "
        "initial prompts always available, so the dispatch is measured rather than the "
        "growth of the trees",
    )
    parser.add_argument(
        "--modes",
        default="rest,push",
        help="which phases, in this order (rotated each repetition): rest (REST polling), "
        "push (answers on the socket), push-rest (pushed, acked and answered over REST)",
    )
    parser.add_argument(
        "--rest-answers",
        action="store_true",
        help="push volunteers ack and answer over REST instead of on their socket",
    )
    parser.add_argument(
        "--fresh-forest",
        action="store_true",
        help="run every phase on its own servers and newly seeded database, so that each mode "
        "starts from the same forest: on one shared forest the phase that runs second inherits "
        "the first one's grown trees and their rankings (31 %% of a push phase's tasks against "
        "2 %% of the REST phase before it), which made it the slower one in either mode",
    )
    parser.add_argument("--log-level", default="WARNING", help="the servers' GROVE_LOG_LEVEL")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C does, so the servers we started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    counts = [int(n) for n in args.clients.split(",") if n]
    plan = []
    for rep in range(args.repetitions):
        for count in counts:
            modes = args.modes.split(",")
            # Each mode takes each place in turn (the trees grow between phases).
            turn = rep % len(modes)
            plan += [(mode, count, rep) for mode in modes[turn:] + modes[:turn]]
    pace = machine.pace_ms()
    print(f"machine pace: sum(range(10**7)) in {pace} ms (lower is faster)")
    reports = []
    if args.fresh_forest:
        for mode, count, rep in plan:
            with served_and_seeded(args) as servers:
                reports.append(phase(mode, servers, count, rep, args))
    else:
        with served_and_seeded(args) as servers:
            reports += [phase(mode, servers, count, rep, args) for mode, count, rep in plan]
    print("\nsummary (cycles/s: median [min-max] over repetitions)")
    for count in counts:
        for mode in args.modes.split(","):
            rates = [
                r["cycles_per_s"] for r in reports if (r["mode"], r["volunteers"]) == (mode, count)
            ]
            print(
                f"  {mode:>9} {count:>3} volunteers: {statistics.median(rates):.1f} "
                f"[{min(rates):.1f}-{max(rates):.1f}]"
            )
    if args.json:
        described = machine.describe(pace) | {"commit": git_commit(ROOT)}
        args.json.write_text(
            json.dumps(
                {
                    "machine": described,
                    "args": vars(args) | {"json": str(args.json)},
                    "phases": reports,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
