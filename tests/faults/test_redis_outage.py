"""Grove under load while its only Redis (broker, cache, channel layer) is killed and comes
back empty, or is paused: every interaction answered 2xx is in the database exactly once, no
request fails or hangs for it, and once Redis is back no tree is left owed an advance.

Real processes on a private Redis and the test database: one uvicorn, one worker, beat (the due
sweep every 2 s). Four volunteers request, ack and answer tasks in a loop through the outage.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from backend.accounts.services import create_api_client
from backend.trees.models import Message, MessageReaction, PendingAdvance, Task, TextLabels
from backend.trees.services.maintenance import SWEPT_STATES
from backend.trees.services.trees import advance_tree
from tests.builders import use_small_trees
from tests.faults.load import Tally, Volunteer
from tests.faults.processes import (
    PrivateRedis,
    grove_environment,
    start_web,
    start_worker,
    stop,
    wait_until,
)
from tests.live import test_database_url

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
VOLUNTEERS = 4
BEFORE_SECONDS, OUTAGE_SECONDS, AFTER_SECONDS = 5, 8, 5
DUE_SWEEP_SECONDS = 2
# A request that takes longer than this during the outage counts as a hang.
SLOW_REQUEST_SECONDS = 5.0


def persisted(kind: str, key: str) -> int:
    if kind == "text":
        return Message.objects.filter(frontend_message_id=key).count()
    if kind == "labels":
        return TextLabels.objects.filter(task_id=key).count()
    return MessageReaction.objects.filter(task_id=key).count()


@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_nothing_answered_is_lost_or_left_behind_when_redis_fails_under_load(tmp_path, fault):
    use_small_trees()
    key = create_api_client(name="load", trusted=False).api_key
    redis = PrivateRedis(tmp_path).start()
    env = grove_environment(
        database_url=test_database_url(),
        redis_url=redis.url,
        GROVE_DUE_SWEEP_INTERVAL_SECONDS=str(DUE_SWEEP_SECONDS),
        GROVE_VAR_DIR=str(tmp_path / "var"),
        GROVE_THROTTLE_USER="100000/minute",
    )
    processes = []
    try:
        web, base_url = start_web(env, tmp_path / "web.log")
        processes.append(web)
        processes.append(start_worker(env, tmp_path / "worker.log", name="load"))
        processes.append(start_beat(env, tmp_path))

        tally = Tally()
        stop_at = [time.monotonic() + 3600]
        volunteers = [
            Volunteer(base_url, key, f"volunteer-{n}", tally, stop_at) for n in range(VOLUNTEERS)
        ]
        for volunteer in volunteers:
            volunteer.start()
        time.sleep(BEFORE_SECONDS)
        if fault == "kill":
            redis.kill()  # kill -9: queued jobs, throttle counters, everything in it is gone
            time.sleep(OUTAGE_SECONDS)
            redis.start()  # back on its port, empty
        else:
            redis.pause()  # SIGSTOP: connections accepted, nothing answered
            time.sleep(OUTAGE_SECONDS)
            redis.resume()
        time.sleep(AFTER_SECONDS)
        stop_at[0] = 0
        for volunteer in volunteers:
            volunteer.join(timeout=40)
        stopped_at = time.monotonic()

        wait_until(
            lambda: not PendingAdvance.objects.exists(),
            timeout=30,
            what="the due sweep to advance every tree owed an advance",
        )
        recovered_after = time.monotonic() - stopped_at
    finally:
        for process in processes:
            stop(process)
        redis.kill()

    counts = Counter(persisted(kind, k) for kind, k in tally.answered)
    unfinished = Task.objects.filter(
        id__in=[k for kind, k in tally.answered if kind != "text"], done=False
    ).count()
    moved = [t.id for t in _swept_trees() if advance_tree(tree_id=t.id)]
    print(
        f"\n{fault}: requests={tally.requests} statuses={dict(tally.statuses)} "
        f"answered_2xx={len(tally.answered)} persisted_once={counts[1]} missing={counts[0]} "
        f"duplicated={sum(v for c, v in counts.items() if c > 1)} slowest={tally.slowest:.2f}s "
        f"due_cleared_after={recovered_after:.1f}s"
    )
    assert len(tally.answered) > 20, "too little load to mean anything"
    assert counts == {1: len(tally.answered)}, counts  # each exactly once
    assert unfinished == 0
    faults = [s for s in tally.statuses if s != "no_task" and (s >= 500 or s == 0)]
    assert not faults, tally.statuses
    assert tally.slowest < SLOW_REQUEST_SECONDS
    assert moved == [], "trees were left with work due"


def _swept_trees():
    from backend.trees.models import MessageTree

    return list(MessageTree.objects.filter(state__in=SWEPT_STATES))


def start_beat(env: dict[str, str], tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from tests.faults.processes import ROOT

    log = tmp_path / "beat.log"
    celery = Path(sys.executable).with_name("celery")
    process = subprocess.Popen(
        [str(celery), "-A", "workers", "beat", "-s", str(tmp_path / "beat-schedule"), "-l", "info"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(lambda: "beat: Starting" in log.read_text(), timeout=30, what="beat")
    return process
