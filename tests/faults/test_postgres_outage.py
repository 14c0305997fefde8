"""Grove under load while its PostgreSQL is paused (SIGSTOP) or crashes and restarts: requests
answer 503 in OA's shape within the timeouts (no hang, no 500), nothing is half-written, and
afterwards service goes on with no interaction lost or duplicated.

A private PostgreSQL (``initdb`` into a temporary directory, a free port) and a private
Redis, one uvicorn process, four volunteers requesting, acking and answering tasks in a loop.
The checker reads the private database directly.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest

from tests.faults.load import Call, Tally, Volunteer
from tests.faults.processes import (
    ROOT,
    PrivatePostgres,
    PrivateRedis,
    grove_environment,
    start_web,
    stop,
)

pytestmark = pytest.mark.faults
VOLUNTEERS = 4
BEFORE_SECONDS, OUTAGE_SECONDS, AFTER_SECONDS = 3, 8, 5
KEY = "fault-test-key-" + "k" * 32
POOL_TIMEOUT_SECONDS = 2
CONNECT_TIMEOUT_SECONDS = 2
STATEMENT_TIMEOUT_SECONDS = 1
CLIENT_TIMEOUT_SECONDS = 2  # the statement timeout + 1 s (production: + 5 s)
# Longest a request may take while the database does not answer: its connection stops
# waiting (the client timeout), or it waits for a connection (the pool's timeout), then
# answers 503; two seconds' margin for a busy machine.
OUTAGE_ANSWER_SECONDS = CLIENT_TIMEOUT_SECONDS + POOL_TIMEOUT_SECONDS + 2
# From the database back to the first interaction answered 2xx (the pool's reconnect
# back-off, GROVE_DB_POOL_RECONNECT_SECONDS, bounds it).
RECOVERY_SECONDS = 3


@pytest.fixture(scope="module")
def grove(tmp_path_factory):
    """(the private PostgreSQL, Grove's base URL) with Grove migrated and a client keyed KEY."""
    tmp = tmp_path_factory.mktemp("postgres-outage")
    postgres, redis, web = PrivatePostgres(), PrivateRedis(tmp), None
    try:
        postgres.start()
        redis.start()
        subprocess.run(
            [
                *(str(postgres.bin / "createdb"), "-h", "127.0.0.1"),
                *("-p", str(postgres.port), "-U", "postgres", "grove"),
            ],
            check=True,
            capture_output=True,
        )
        env = grove_environment(
            database_url=postgres.url(),
            redis_url=redis.url,
            GROVE_VAR_DIR=str(tmp / "var"),
            GROVE_THROTTLE_USER="100000/minute",
            GROVE_BOOTSTRAP_API_KEY=KEY,
            GROVE_DB_POOL_TIMEOUT_SECONDS=str(POOL_TIMEOUT_SECONDS),
            GROVE_DB_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT_SECONDS),
            GROVE_DB_STATEMENT_TIMEOUT_SECONDS=str(STATEMENT_TIMEOUT_SECONDS),
            GROVE_DB_CLIENT_TIMEOUT_SECONDS=str(CLIENT_TIMEOUT_SECONDS),
        )
        for command in (["migrate", "--noinput"], ["bootstrap_api_client"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env={**env, "GROVE_DB_STATEMENT_TIMEOUT_SECONDS": "0"},
                check=True,
                capture_output=True,
            )
        web, base_url = start_web(env, tmp / "web.log")
        yield postgres, base_url
    finally:
        if web is not None:
            stop(web)
        redis.kill()
        postgres.stop()


def run_load(base_url: str, fault) -> tuple[Tally, float, float]:
    """Volunteers before, during and after ``fault()`` (which returns once the database is
    back); returns the tally and when the fault began and ended (``time.monotonic``)."""
    tally = Tally()
    stop_at = [time.monotonic() + 3600]
    volunteers = [
        Volunteer(base_url, KEY, f"volunteer-{n}", tally, stop_at) for n in range(VOLUNTEERS)
    ]
    for volunteer in volunteers:
        volunteer.start()
    time.sleep(BEFORE_SECONDS)
    began = time.monotonic()
    fault()
    ended = time.monotonic()
    time.sleep(AFTER_SECONDS)
    stop_at[0] = 0
    for volunteer in volunteers:
        volunteer.join(timeout=40)
    return tally, began, ended


@pytest.mark.parametrize("fault", ["pause", "crash"])
def test_nothing_answered_is_lost_and_nothing_hangs_when_postgres_fails_under_load(grove, fault):
    postgres, base_url = grove

    def inject() -> None:
        if fault == "pause":
            postgres.pause()  # the kernel accepts connections, no process answers
            time.sleep(OUTAGE_SECONDS)
            postgres.resume()
        else:
            postgres.crash()  # immediate shutdown: sessions end, uncommitted work is lost
            time.sleep(OUTAGE_SECONDS)
            postgres.start()  # recovers from the WAL

    tally, began, ended = run_load(base_url, inject)
    during = [c for c in tally.calls if c.started >= began and c.ended <= ended]
    after = [c for c in tally.calls if c.started >= ended]
    refused = [c for c in during if c.status >= 500 or c.status == 0]
    served = [c for c in after if c.status < 300 and c.path == "tasks/interaction"]
    recovered = min(c.ended for c in served) - ended if served else None
    print(
        f"\n{fault}: requests={tally.requests} statuses={dict(tally.statuses)} "
        f"answered_2xx={len(tally.answered)} not_answered={len(tally.refused)} "
        f"during={dict(Counter((c.status, c.error_code) for c in during))} "
        f"slowest={tally.slowest:.2f}s first_answer_after={recovered}s"
    )
    check_database(postgres, tally)
    assert len(tally.answered) > 20, "too little load to mean anything"
    assert all(answers_503_in_oa_shape(c) for c in refused), refused
    assert not [c for c in tally.calls if c.status == 500], "a 500"
    assert tally.slowest < OUTAGE_ANSWER_SECONDS, "a request waited for the database"
    assert [c for c in during if c.status == 503], "no request saw the outage"
    assert served, "service did not resume"
    assert recovered is not None and recovered < RECOVERY_SECONDS


def answers_503_in_oa_shape(call: Call) -> bool:
    took = call.ended - call.started
    return call.status == 503 and call.oa_shape and took < OUTAGE_ANSWER_SECONDS


def check_database(postgres: PrivatePostgres, tally: Tally) -> None:
    """Every interaction answered 2xx is stored exactly once, one not answered 2xx at most
    once; every stored answer's task is done and every done task has its one answer."""
    with psycopg.connect(postgres.url().replace("postgres://", "postgresql://")) as db:
        texts = dict(
            db.execute(
                "SELECT frontend_message_id, count(*) FROM trees_message "
                "WHERE frontend_message_id LIKE 'um-%%' GROUP BY 1"
            ).fetchall()
        )
        labels = dict(
            db.execute(
                "SELECT task_id::text, count(*) FROM trees_textlabels "
                "WHERE task_id IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        rankings = dict(
            db.execute(
                "SELECT task_id::text, count(*) FROM trees_messagereaction "
                "WHERE task_id IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        half_written = db.execute(
            """
            SELECT t.id, t.payload_type, t.done,
                   (SELECT count(*) FROM trees_message m WHERE m.task_id = t.id)
                 + (SELECT count(*) FROM trees_textlabels l WHERE l.task_id = t.id)
                 + (SELECT count(*) FROM trees_messagereaction r WHERE r.task_id = t.id)
            FROM trees_task t
            """
        ).fetchall()
    stored = {"text": texts, "labels": labels, "ranking": rankings}
    answered = Counter(stored[kind].get(key, 0) for kind, key in tally.answered)
    assert answered == {1: len(tally.answered)}, answered  # each exactly once
    not_answered = Counter(stored[kind].get(key, 0) for kind, key in tally.refused)
    assert set(not_answered) <= {0, 1}, not_answered
    broken = [row for row in half_written if (row[3] > 0) != row[2] or row[3] > 1]
    assert not broken, broken  # an answer without its done task, or the reverse
