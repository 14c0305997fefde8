"""CPU of the HTTP bridge's hop alone (``backend.http_bridge.ThreadedWsgi``): a trivial WSGI
app behind it, driven in-process on uvloop by ``--concurrency`` coroutines, no server, no
database. Prints CPU and wall microseconds a request; compare checkouts with ``--repo``.

    python bench/bridge_hop.py --repo /path/to/checkout --requests 24000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(__file__)) or ".")
    parser.add_argument("--requests", type=int, default=24_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.abspath(args.repo))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import uvloop

    from backend.http_bridge import ThreadedWsgi

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    bridge = ThreadedWsgi(app, threads=args.threads)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/tasks/",
        "raw_path": b"/api/v1/tasks/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json")],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        pass

    async def one(count: int) -> None:
        for _ in range(count):
            await bridge(scope, receive, send)

    async def run() -> None:
        await asyncio.gather(*(one(200) for _ in range(args.concurrency)))  # warm-up
        each = args.requests // args.concurrency
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(each) for _ in range(args.concurrency)))
        total = each * args.concurrency
        print(
            f"{args.repo}: {total} requests, CPU {(time.process_time() - cpu) / total * 1e6:.1f}"
            f" us a request, wall {(time.perf_counter() - wall) / total * 1e6:.1f} us"
        )

    uvloop.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
