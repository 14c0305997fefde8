"""What operators look at: queue depths in the Redis broker (``manage.py queue_status``)."""

from __future__ import annotations

from dataclasses import dataclass

from workers.celery import app

QUEUES = ("tree", "stats", "export")
# kombu's Redis transport keeps a queue as a Redis list named after it, plus one list per
# priority step ("<queue>\x06\x16<n>") and the "unacked" hash of delivered, unacked messages.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = range(1, 10)


@dataclass(frozen=True)
class QueueDepths:
    waiting: dict[str, int]
    unacked: int


def queue_depths(queues: tuple[str, ...] = QUEUES) -> QueueDepths:
    """Messages waiting per queue and delivered-but-unacknowledged ones (Redis broker only)."""
    with app.connection_for_read() as connection:
        if connection.transport.driver_type != "redis":
            raise RuntimeError(
                f"queue depths need a Redis broker; this one is {connection.transport.driver_type}"
            )
        client = connection.default_channel.client
        pipe = client.pipeline()
        for queue in queues:
            pipe.llen(queue)
            for step in PRIORITY_STEPS:
                pipe.llen(f"{queue}{PRIORITY_SEPARATOR}{step}")
        pipe.hlen("unacked")
        counts = pipe.execute()
    per_queue = 1 + len(PRIORITY_STEPS)
    waiting = {
        queue: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }
    return QueueDepths(waiting=waiting, unacked=counts[-1])
