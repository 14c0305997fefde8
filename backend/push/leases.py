"""Leases that ran out: pushed tasks not acknowledged in time, sessions whose socket is gone.

``sweep`` is the one home of both returns. Every web process running push sockets calls it
each ``GROVE_PUSH_TICK_SECONDS`` (``frontend_api/ws/dispatch.py``); celery beat runs it as
``grove.tree.return_push_leases`` and ``manage.py return_push_leases`` by hand, so tasks come
back even when no web process with a push socket is left. Which caller returns a due item is
decided by ``ZREM`` (one answer of 1), so any number of callers may run at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from backend import lean_redis
from backend.push import keys
from backend.push.signals import lean_scripts, redis_client, release
from backend.trees.services.push_leases import return_pushed_task

logger = logging.getLogger("grove.push")
SWEEP_BATCH = 200
DROP_ENTRY = lean_redis.Script(keys.DROP_ENTRY)
CLEAR_HELD = lean_redis.Script(keys.CLEAR_HELD)


@dataclass
class SweepReport:
    not_acknowledged: int = 0  # tasks returned: no ack within GROVE_PUSH_ACK_SECONDS
    sessions_ended: int = 0  # sessions whose socket closed and did not resume in time
    socket_gone: int = 0  # tasks returned with those sessions


def sweep(*, client: redis.Redis | None = None, now_ms: int | None = None) -> SweepReport:
    client = client or redis_client()
    report = SweepReport()
    if client is None:
        return report
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    for task_id in _take_due(client, keys.ACK_DUE, now_ms):
        if return_pushed_task(task_id=task_id, only_unacked=True, why="not_acknowledged"):
            report.not_acknowledged += 1
            release(task_id)
    for session in _take_due(client, keys.SESSION_DUE, now_ms):
        if client.exists(keys.session(session, "alive")):
            continue  # a socket holds it (its process renews the deadline)
        end_session(client, session, report)
    if report.not_acknowledged or report.sessions_ended:
        logger.info(
            "event=push_leases_returned not_acknowledged=%s sessions=%s tasks=%s",
            report.not_acknowledged,
            report.sessions_ended,
            report.socket_gone,
        )
    return report


def end_session(client: redis.Redis, session: str, report: SweepReport) -> None:
    for raw in client.smembers(keys.session(session, "tasks")):
        task_id = raw.decode()
        if return_pushed_task(task_id=task_id, only_unacked=False, why="socket_gone"):
            report.socket_gone += 1
        release(task_id)  # also when it closed meanwhile and its release was lost
    for raw in client.smembers(keys.session(session, "entries")):
        entry_id = raw.decode()
        lean_scripts().run(DROP_ENTRY, [keys.entry(entry_id)], [entry_id])
    owner = client.hget(keys.session(session), "client")
    for field, _count in client.hscan_iter(keys.HELD, match=keys.entry_id(session, "*")):
        lean_scripts().run(CLEAR_HELD, [keys.HELD], [field, owner or ""])
    client.delete(
        keys.session(session),
        keys.session(session, "tasks"),
        keys.session(session, "entries"),
        keys.session(session, "held"),
    )
    report.sessions_ended += 1


def _take_due(client: redis.Redis, zset: str, now_ms: int) -> list[str]:
    """Members of ``zset`` past their deadline that this caller took (ZREM says who)."""
    due = client.zrangebyscore(zset, "-inf", now_ms, start=0, num=SWEEP_BATCH)
    return [member.decode() for member in due if client.zrem(zset, member)]
