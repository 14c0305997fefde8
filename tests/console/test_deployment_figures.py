"""The console's deployment-wide figures: what web processes flush to Redis, summed.

The first tests flush this test process's own metrics into the suite's Redis; the last one
starts two uvicorn servers (two machines: no metrics directory in common) and reads what both
flushed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from django.db import transaction

from backend.accounts.services import create_api_client
from backend.console import deployment
from tests.api.conftest import Frontend, protocol_user
from tests.builders import make_tree, make_user
from tests.live import serve_grove

NOW = 1_800_000_000.0  # a fixed wall-clock time, so slots are known


@pytest.fixture
def client(settings):
    settings.GROVE_CONSOLE_FLUSH_SECONDS = 0  # this process's flusher thread: paused
    client = deployment.redis_client()
    client.delete(*client.keys(f"{deployment.PREFIX}*") or ["none"])
    deployment._take_volunteers()  # what earlier tests' requests noted
    return client


@pytest.fixture
def frontend(db) -> Frontend:
    return Frontend()


def task_request(user: str, lang: str) -> dict:
    return {"type": "assistant_reply", "lang": lang, "user": protocol_user(user)}


def request_task(frontend, user: str, lang: str):
    return frontend.post("tasks/", task_request(user, lang))


@pytest.mark.django_db
def test_a_flush_adds_what_this_process_counted_since_its_previous_flush(frontend, client):
    make_tree(author=make_user(frontend.client_row), lang="en")
    flusher = deployment.Flusher()
    flusher.flush(client, now=NOW - 600)  # everything before this test, out of the window
    deployment._take_volunteers()

    assert request_task(frontend, "ada", "en").status_code == 200
    assert request_task(frontend, "bob", "xx").status_code == 503
    assert request_task(frontend, "bob", "xx").status_code == 503
    flusher.flush(client, now=NOW)
    flusher.flush(client, now=NOW + 1)  # nothing new: adds nothing
    figures = deployment.read_figures(client, now=NOW + 2)

    assert figures["latency"]["requests"] == 3
    assert figures["latency"]["p50_ms"] > 0 and figures["latency"]["scope"] == "deployment"
    assert figures["unserved"] == {"xx": 2}
    assert figures["rest_active"] == {"en": 1, "xx": 1}


@pytest.mark.django_db
def test_the_window_leaves_out_older_slots(client):
    deployment.note_rest_volunteer("ada", "en")
    pipe = client.pipeline()
    pipe.hincrby(deployment.figures_key(int((NOW - 120) // 10)), "lat:inf", 50)
    pipe.hincrby(deployment.figures_key(int((NOW - 120) // 10)), "none:de", 9)
    pipe.hincrby(deployment.figures_key(int((NOW - 30) // 10)), "lat:0.01", 4)
    pipe.hincrby(deployment.figures_key(int((NOW - 30) // 10)), "lat:inf", 4)
    pipe.hincrby(deployment.figures_key(int((NOW - 30) // 10)), "none:de", 1)
    pipe.execute()
    deployment.Flusher().flush(client, now=NOW - 400)  # the volunteer, too long ago
    deployment.note_rest_volunteer("bob", "en")
    deployment.Flusher().flush(client, now=NOW - 200)

    figures = deployment.read_figures(client, now=NOW)

    assert figures["latency"]["requests"] == 4
    assert figures["latency"]["p99_ms"] <= 10
    assert figures["unserved"]["de"] == 1
    assert figures["rest_active"] == {"en": 1}


def test_volunteers_noted_while_redis_is_down_are_flushed_later(client):
    import redis

    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    deployment.note_rest_volunteer("ada", "de")
    flusher = deployment.Flusher()
    with pytest.raises(redis.RedisError):
        flusher.flush(down, now=NOW)

    flusher.flush(client, now=NOW)

    assert deployment.read_figures(client, now=NOW)["rest_active"] == {"de": 1}


KEY = "deployment-figures-key-0123456789abcdef"


def call(port: int, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/tasks/",
        data=json.dumps(body).encode(),
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_console_sums_the_figures_of_web_processes_on_two_machines(client):
    with transaction.atomic():
        api_client = create_api_client(name="two machines", api_key=KEY).client
        make_tree(author=make_user(api_client), lang="en")
        make_tree(author=make_user(api_client), lang="en")
    started = time.time()
    with (
        serve_grove(GROVE_CONSOLE_FLUSH_SECONDS="0.3") as first,
        serve_grove(GROVE_CONSOLE_FLUSH_SECONDS="0.3") as second,
    ):
        statuses = [call(first, task_request(f"en-{i}", "en")) for i in range(3)]
        statuses += [call(second, task_request(f"de-{i}", "de")) for i in range(4)]
        assert statuses == [200, 200, 200, 503, 503, 503, 503]
        deadline = time.monotonic() + 10
        while True:
            figures = deployment.read_figures(client)
            if figures["latency"]["requests"] >= 7 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert time.time() - started < deployment.LATENCY_WINDOW_SECONDS
    assert figures["latency"]["requests"] == 7
    assert figures["unserved"] == {"de": 4}
    assert figures["rest_active"] == {"en": 3, "de": 4}
