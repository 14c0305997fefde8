"""100 and 200 concurrent HTTP requests for the last reply slot of a node: one task, not 19 to 40.

Grove runs as in production (uvicorn, four worker processes) against this test's PostgreSQL
database; the requests come from as many threads, released at once.
"""

from __future__ import annotations

import threading

import pytest

from backend.accounts.services import create_api_client
from backend.trees.models import Task
from bench.concurrent_replies import post
from tests.builders import add_reply, make_tree, make_user
from tests.live import serve_grove

WEB_PROCESSES = 4
KEY = "http-concurrency-key-0123456789abcdef"

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def server():
    with serve_grove(
        workers=WEB_PROCESSES,
        GROVE_THROTTLE_USER="100000/minute",
        GROVE_THROTTLE_CLIENT="100000/minute",
    ) as port:
        yield port


@pytest.mark.parametrize("requests", [100, 200])
def test_concurrent_requests_get_one_task_for_the_last_slot(server, requests):
    client = create_api_client(name="racers", api_key=KEY).client
    prompt = make_tree(author=make_user(client), max_children_count=3, goal_tree_size=50)
    for _ in range(2):
        add_reply(prompt, author=make_user(client), review_result=True)
    results: list[tuple[int, dict]] = []
    barrier = threading.Barrier(requests)

    def race(i: int) -> None:
        barrier.wait(timeout=30)
        user = {"id": f"racer-{i}", "display_name": f"Racer {i}", "auth_method": "local"}
        results.append(
            post(server, "/api/v1/tasks/", {"type": "assistant_reply", "user": user}, key=KEY)
        )

    threads = [threading.Thread(target=race, args=(i,)) for i in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = sorted(status for status, _ in results)
    unexpected = [body for status, body in results if status not in (200, 503)]
    assert statuses == [200] + [503] * (requests - 1), unexpected[:3]
    assert all(body["error_code"] == 1006 for status, body in results if status == 503)
    assert Task.objects.filter(parent_message=prompt, payload_type="assistant_reply").count() == 1
