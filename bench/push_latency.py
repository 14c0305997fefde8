"""Push dispatch latency: from work appearing to the push reaching a ready volunteer's socket.

    .venv/bin/python bench/push_latency.py --volunteers 1000 --prompts 30 --web-workers 2

Starts Grove's production profile (``grove_processes.GroveServers``: a scratch database
``grove_bench_push``, uvicorn with ``--web-workers`` processes, one Celery worker, Redis db 4),
opens ``--volunteers`` websockets, each with its own user ready for ``label_initial_prompt``
(nothing to review yet), then an author writes ``--prompts`` initial prompts over REST, one
every ``--interval`` seconds. Each prompt makes review work for the first volunteers in line
(OA's ``num_reviews_initial_prompt``). For every push: the time from the author's interaction
answer (the work is committed before it) to the frame arriving; a negative value is a push
that arrived before the REST answer did. Then a burst: ``--burst`` prompts written at once
from parallel threads, and the time until the last push of their work arrived.

Prints p50/p90/p99/max and the burst time. Numbers depend on the machine and its load;
report them with the command that produced them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets

from bench.concurrent_replies import post
from bench.grove_processes import GroveServers

ROOT = Path(__file__).resolve().parent.parent
KEY = "push-latency-bench-key-0123456789abcdef"
REDIS_URL = "redis://127.0.0.1:6379/4"


def write_prompt(port: int, i: int) -> float:
    """An author writes one initial prompt over REST; the time its interaction answered."""
    author = {"id": f"author-{i}", "display_name": f"Author {i}", "auth_method": "local"}
    status, task = post(port, "/api/v1/tasks/", {"type": "initial_prompt", "user": author}, key=KEY)
    assert status == 200, (status, task)
    status, _ = post(port, f"/api/v1/tasks/{task['id']}/ack", {"message_id": f"p-{i}"}, key=KEY)
    assert status == 204, status
    body = {
        "type": "text_reply_to_message",
        "message_id": f"p-{i}",
        "user_message_id": f"pm-{i}",
        "text": f"Prompt number {i}: how do bees find their way back to the hive?",
        "user": author,
    }
    status, answer = post(port, "/api/v1/tasks/interaction", body, key=KEY)
    assert status == 200, (status, answer)
    return time.time()


class Volunteers:
    def __init__(self, port: int, count: int):
        self.port, self.count = port, count
        self.sockets: list = []
        self.arrivals: list[tuple[float, str]] = []  # (time, task id)

    async def connect(self) -> None:
        for i in range(self.count):
            socket = await websockets.connect(
                f"ws://127.0.0.1:{self.port}/ws/tasks/",
                additional_headers={"X-API-Key": KEY},
                max_queue=None,
            )
            self.sockets.append(socket)
            user = {"id": f"volunteer-{i}", "display_name": f"V{i}", "auth_method": "local"}
            await socket.send(
                json.dumps({"type": "ready", "user": user, "task_kind": "label_initial_prompt"})
            )
            answer = json.loads(await socket.recv())
            assert answer["type"] == "ready_ok", answer

    async def listen(self, socket) -> None:
        async for raw in socket:
            frame = json.loads(raw)
            if frame["type"] == "task_assigned":
                self.arrivals.append((time.time(), frame["task"]["id"]))

    async def close(self) -> None:
        """Close every socket at once, giving up after a few seconds (a server that stopped
        answering must not keep the benchmark, and so its servers, running)."""
        if self.sockets:
            await asyncio.wait(
                [asyncio.ensure_future(socket.close()) for socket in self.sockets], timeout=5
            )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def run(args, port: int) -> None:
    volunteers = Volunteers(port, args.volunteers)
    try:
        await measure(args, volunteers)
    finally:
        await volunteers.close()


async def measure(args, volunteers: Volunteers) -> None:
    port = volunteers.port
    started = time.monotonic()
    await volunteers.connect()
    print(f"{args.volunteers} volunteers ready in {time.monotonic() - started:.1f} s")
    listeners = [asyncio.create_task(volunteers.listen(s)) for s in volunteers.sockets]
    await asyncio.sleep(2)

    latencies = []
    for i in range(args.prompts):
        before = len(volunteers.arrivals)
        answered = await asyncio.to_thread(write_prompt, port, i)
        await asyncio.sleep(args.interval)
        latencies += [(at - answered) * 1000 for at, _ in volunteers.arrivals[before:]]
    if latencies:
        print(
            f"work appears -> push, {len(latencies)} pushes after {args.prompts} prompts: "
            f"p50 {statistics.median(latencies):.1f} ms, p90 {percentile(latencies, 0.9):.1f}"
            f" ms, p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms"
        )

    if args.burst:
        before = len(volunteers.arrivals)
        start = time.time()
        with ThreadPoolExecutor(max_workers=8) as pool:
            done = await asyncio.gather(
                *(
                    asyncio.wrap_future(pool.submit(write_prompt, port, 100_000 + i))
                    for i in range(args.burst)
                )
            )
        await asyncio.sleep(args.burst_wait)
        arrived = volunteers.arrivals[before:]
        if arrived:
            last = max(at for at, _ in arrived)
            print(
                f"burst of {args.burst} prompts written in {max(done) - start:.2f} s: "
                f"{len(arrived)} pushes, the last {last - max(done):.2f} s after the last "
                f"prompt was answered ({last - start:.2f} s after the first was sent)"
            )
    for listener in listeners:
        listener.cancel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=1000)
    parser.add_argument("--prompts", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--burst-wait", type=float, default=10.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--log-level", default="WARNING", help="the servers' GROVE_LOG_LEVEL")
    parser.add_argument("--database", default="grove_bench_push", help="scratch database name")
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C does: the sockets are closed, the servers we started stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with GroveServers(
        repo=ROOT,
        database=args.database,
        api_key=KEY,
        web_workers=args.web_workers,
        redis_url=args.redis_url,
        extra_env={"GROVE_PUSH_ACK_SECONDS": "600", "GROVE_LOG_LEVEL": args.log_level},
    ) as servers:
        asyncio.run(run(args, servers.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
