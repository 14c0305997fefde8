"""Security and exclusivity guarantees under parallel HTTP requests (reliability findings 7, 8).

Grove runs as in production (uvicorn worker processes, the shared Redis throttle) against this
test's PostgreSQL database; the requests come from threads released at once.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from backend.accounts.services import create_api_client
from backend.trees.models import Task
from bench.concurrent_replies import post
from tests.builders import make_tree, make_user
from tests.live import serve_grove

KEY = "http-security-key-0123456789abcdefgh"

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def in_parallel(count: int, call) -> list:
    """``call(i)`` for i in range(count), each in a thread, all released together."""
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def get_status(port: int, path: str, headers: dict) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_300_parallel_requests_of_one_user_pass_a_120_per_minute_budget_at_most_120_times():
    create_api_client(name="throttled", api_key=KEY)
    headers = {"X-API-Key": KEY, "X-OASST-USER": "local:ada"}
    with serve_grove(
        workers=2, GROVE_THROTTLE_USER="120/minute", GROVE_THROTTLE_CLIENT="100000/minute"
    ) as port:
        # All 300 in one minute window: start at least 20 s before it ends.
        if time.time() % 60 > 40:
            time.sleep(60 - time.time() % 60)
        statuses = Counter(
            in_parallel(300, lambda i: get_status(port, "/api/v1/auth/check", headers))
        )
    assert statuses == {200: 120, 429: 180}


ROUNDS = 10
PARALLEL = 6


def test_parallel_task_requests_of_one_user_never_get_two_tasks_on_one_target():
    client = create_api_client(name="racers", api_key=KEY).client
    author = make_user(client)
    with serve_grove(
        workers=2, GROVE_THROTTLE_USER="100000/minute", GROVE_THROTTLE_CLIENT="100000/minute"
    ) as port:
        for round_ in range(ROUNDS):
            # Two open prompts: room for one reply task each per user, many slots per prompt.
            for _ in range(2):
                make_tree(author=author, max_children_count=10, goal_tree_size=50)
            user = {"id": f"racer-{round_}", "display_name": "Racer", "auth_method": "local"}
            body = {"type": "assistant_reply", "user": user}
            results = in_parallel(
                PARALLEL, lambda i, body=body: post(port, "/api/v1/tasks/", body, key=KEY)
            )
            assert {status for status, _ in results} <= {200, 503}, results
    per_target = Counter(
        Task.objects.filter(parent_message__isnull=False).values_list(
            "user__username", "parent_message_id"
        )
    )
    assert per_target and max(per_target.values()) == 1, per_target.most_common(3)
