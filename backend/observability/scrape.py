"""Gauges of the whole deployment, computed when Prometheus scrapes a web process.

They describe shared state (PostgreSQL, the broker), not a process, so any web process gives
the same answer: use ``max`` over instances in queries, not ``sum``. Each source is one
grouped query or one Redis pipeline; one that fails is reported by ``grove_scrape_source_up``
and the others are still exported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from django.db.models import Count, Sum
from prometheus_client.core import GaugeMetricFamily, Metric

logger = logging.getLogger("grove.observability")


def tree_states() -> Iterator[Metric]:
    from backend.trees.models import MessageTree

    family = GaugeMetricFamily(
        "grove_trees", "Message trees by language and state.", labels=["lang", "state"]
    )
    rows = MessageTree.objects.values_list("lang", "state").annotate(n=Count("id")).order_by()
    for lang, state, count in rows:
        family.add_metric([lang, state], count)
    yield family


def ready_work() -> Iterator[Metric]:
    """Work that can be handed out now (the ready-work index), by language and task kind."""
    from backend.trees.models import ReadyWork

    family = GaugeMetricFamily(
        "grove_ready_work_slots",
        "Task slots open now, by language and kind (the ready-work index; open tasks' leases "
        "are not subtracted).",
        labels=["lang", "kind"],
    )
    rows = ReadyWork.objects.values_list("lang", "kind").annotate(n=Sum("slots")).order_by()
    for lang, kind, slots in rows:
        family.add_metric([lang, kind], slots or 0)
    yield family


def growth_config() -> Iterator[Metric]:
    """The active tree-growth configuration version: a change marks the charts (Grafana's
    "config version" annotation), so an admin sees what a change did."""
    from backend.trees.growth_config import active_version

    active = active_version()
    yield GaugeMetricFamily(
        "grove_growth_config_version",
        "Version number of the active tree-growth configuration (0: the defaults, none stored).",
        value=active.version if active is not None else 0,
    )


def queue_depths() -> Iterator[Metric]:
    from workers.celery import app
    from workers.monitoring import queue_depths as broker_queue_depths

    if app.conf.task_always_eager:
        return  # no broker: jobs run in the process that sends them
    depths = broker_queue_depths()
    waiting = GaugeMetricFamily(
        "grove_queue_messages", "Jobs waiting in a broker queue.", labels=["queue"]
    )
    for queue, count in depths.waiting.items():
        waiting.add_metric([queue], count)
    yield waiting
    yield GaugeMetricFamily(
        "grove_queue_unacked_messages",
        "Jobs delivered to a worker and not acknowledged yet (running or lost with a worker).",
        value=depths.unacked,
    )


def readiness() -> Iterator[Metric]:
    """What ``/health/ready`` would answer, per check (1 ready, 0 not)."""
    from frontend_api.health import READINESS_CHECKS, run_checks

    checks = run_checks(checks=READINESS_CHECKS)
    family = GaugeMetricFamily(
        "grove_readiness_check",
        "1 when the readiness check passes (database, broker, channel_layer, migrations).",
        labels=["check"],
    )
    for name, result in checks.items():
        family.add_metric([name], 1 if result["ok"] else 0)
    yield family
    yield GaugeMetricFamily(
        "grove_ready",
        "1 when /health/ready answers 200 on the scraped process.",
        value=1 if all(result["ok"] for result in checks.values()) else 0,
    )


def volunteers() -> Iterator[Metric]:
    """Volunteers per language: waiting in push dispatch's line, and active over REST (asked
    for a task in the last five minutes, every web process: ``backend.console.deployment``).
    With the ready-work slots, they tell a starving language (alert GroveLanguageStarving)."""
    from backend.console import deployment
    from backend.console.selectors import volunteers_ready

    ready = volunteers_ready()
    if ready is None:
        raise RuntimeError("push dispatch's line is unreadable")
    family = GaugeMetricFamily(
        "grove_push_volunteers_ready",
        "Users waiting in push dispatch's line for a task, by language.",
        labels=["lang"],
    )
    for lang, count in ready.items():
        family.add_metric([lang], count)
    yield family
    client = deployment.redis_client()
    if client is None:
        return  # embedded: no shared Redis, and REST volunteers are the process's own
    family = GaugeMetricFamily(
        "grove_rest_volunteers_active",
        "Distinct users who asked for a task over REST in the last five minutes, by language "
        "(a HyperLogLog: exact for a few, within 1 % for thousands).",
        labels=["lang"],
    )
    for lang, count in deployment.rest_volunteers(client).items():
        family.add_metric([lang], count)
    yield family


SOURCES: dict[str, Callable[[], Iterator[Metric]]] = {
    "trees": tree_states,
    "ready_work": ready_work,
    "growth_config": growth_config,
    "queues": queue_depths,
    "readiness": readiness,
    "volunteers": volunteers,
}


class DeploymentCollector:
    """A prometheus_client collector over ``SOURCES``."""

    def describe(self) -> list:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "grove_scrape_source_up",
            "1 when a scrape-time source (trees, ready_work, growth_config, queues, readiness, "
            "volunteers) answered.",
            labels=["source"],
        )
        seconds = GaugeMetricFamily(
            "grove_scrape_source_duration_seconds",
            "Time a scrape-time source took.",
            labels=["source"],
        )
        for name, source in SOURCES.items():
            started = time.perf_counter()
            try:
                yield from list(source())
                up.add_metric([name], 1)
            except Exception:
                logger.warning("event=scrape_source_failed source=%s", name, exc_info=True)
                up.add_metric([name], 0)
            seconds.add_metric([name], time.perf_counter() - started)
        yield up
        yield seconds
