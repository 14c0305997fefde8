"""100 concurrent assistant_reply requests for a node that needs one more reply, over HTTP.

    .venv/bin/python bench/concurrent_replies.py [--workers 4] [--requests 100]

Starts Grove (uvicorn, N worker processes) on a scratch PostgreSQL database, grows one tree
whose prompt has 2 accepted answers of the 3 it may have, then fires the requests from as many
threads at once and counts the reply tasks handed out for that prompt. Open-Assistant's
backend handed out 19 to 40 in this situation; Grove must hand out exactly one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "grove_bench_concurrency"
KEY = "bench-concurrency-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, path: str, body: dict, *, key: str = KEY) -> tuple[int, dict]:
    """POST JSON to a local Grove; (status, body) for errors too."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "GROVE_BOOTSTRAP_API_KEY": KEY,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "GROVE_THROTTLE_USER": "100000/minute",
        "GROVE_THROTTLE_CLIENT": "100000/minute",
    }
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "GROVE_CHANNEL_LAYER_URL"):
        env.pop(name, None)
    py = str(ROOT / ".venv/bin/python")
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"],
        check=True,
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DB}"], check=True
    )
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [py, "manage.py", "bootstrap_api_client"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    setup = subprocess.run(
        [py, "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    prompt_id = setup.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/uvicorn"),
            "backend.asgi:application",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        results: list[tuple[int, dict]] = []
        barrier = threading.Barrier(args.requests)

        def fire(i: int) -> None:
            barrier.wait()
            user = {"id": f"racer-{i}", "display_name": f"Racer {i}", "auth_method": "local"}
            results.append(post(port, "/api/v1/tasks/", {"type": "assistant_reply", "user": user}))

        threads = [threading.Thread(target=fire, args=(i,)) for i in range(args.requests)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)
    granted = [
        body
        for status, body in results
        if status == 200 and body["conversation"]["messages"][-1]["id"] == prompt_id
    ]
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"{args.requests} concurrent requests, {args.workers} workers, {elapsed:.2f}s")
    print(f"status codes: {statuses}")
    print(f"reply tasks handed out for the prompt that needed one more reply: {len(granted)}")
    return 0 if len(granted) == 1 else 1


SETUP = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
django.setup()
from backend.accounts.models import ApiClient
from tests.builders import add_reply, make_tree, make_user
client = ApiClient.objects.get()
prompt = make_tree(author=make_user(client, username="author"), max_children_count=3)
for i in range(2):
    add_reply(prompt, author=make_user(client, username=f"early-{i}"), review_result=True)
print(prompt.id)
"""

if __name__ == "__main__":
    sys.exit(main())
