"""A job's message written to the broker in one Redis command, as Celery would write it.

``Task.apply_async`` cost 616 µs of CPU per send on this machine (2,000 sends of the advance
job to a local Redis): routing, option merging, the publish signals, kombu's producer and
channel checkout, a retry wrapper, redis-py's pipeline. A web process sends one after many
answers (the advance job, from ``enqueue_advance``); py-spy put ``apply_async`` at 5 % of a
web process's request samples at 16 clients. Here the same message (Celery's protocol 2
in kombu's Redis envelope: the JSON body in base64, the headers, the delivery properties) is
built directly and pushed with ``LPUSH`` onto the queue's list, the key kombu's Redis
transport pushes a priority-0 message to, on a kept-open connection per thread
(``backend.lean_redis``).

It is used only where the result is the message Celery would send
(``tests/workers/test_lean_publish.py`` compares the two, field by field):

- a Redis broker this module can reach (``redis://``, ``unix://``; not TLS), without a key
  prefix or a custom priority separator in the transport options;
- protocol 2, JSON, no compression, no "task sent" events;
- a job routed to a queue of a direct exchange (Celery then publishes to the anonymous
  exchange, routing key = queue name: the queue's list);
- no publish signal receiver other than Grove's ``carry_request_id``, whose header is written
  here the same way;
- not from inside a running job (Celery would record it as the new job's parent).

Anything else goes through ``apply_async``. A failure raises redis-py's exceptions, which
``send_job`` handles as it handles Celery's: logged, counted, left to the due sweep.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass

from celery import Task
from celery.signals import after_task_publish, before_task_publish
from celery.utils.nodenames import anon_nodename
from celery.utils.saferepr import saferepr
from django.conf import settings

from backend import lean_redis
from backend.observability import context

# kombu's Redis transport options that change where or how a message is stored.
_KEY_CHANGING_OPTIONS = ("global_keyprefix", "sep", "priority_steps")
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@dataclass(frozen=True)
class _Route:
    queue: str
    time_limit: float | None
    soft_time_limit: float | None
    ignore_result: bool
    repr_size: int
    repr_levels: int


class LeanPublisher:
    """Publishes jobs of one Celery app to its Redis broker; see the module's docstring."""

    def __init__(self, app, scripts) -> None:
        self.app = app
        self.scripts = scripts
        self._routes: dict[str, _Route | None] = {}

    def send(self, job: Task, args: tuple) -> bool:
        """Publish ``job(*args)``; False (nothing sent) when Celery must do it instead."""
        route = self._route(job)
        if route is None or not _signals_known(job.name) or self.app.current_worker_task:
            return False
        self.scripts.command("LPUSH", route.queue, self.message(job, args, route))
        return True

    def message(self, job: Task, args: tuple, route: _Route) -> bytes:
        task_id = str(uuid.uuid4())
        headers = {
            "lang": "py",
            "task": job.name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [route.time_limit, route.soft_time_limit],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": saferepr(args, route.repr_size, maxlevels=route.repr_levels),
            "kwargsrepr": "{}",
            "origin": anon_nodename(),
            "ignore_result": route.ignore_result,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        }
        request_id = context.request_id.get()  # what carry_request_id adds
        if request_id is not None:
            headers[context.JOB_REQUEST_ID_HEADER] = request_id
        body = json.dumps([list(args), {}, _EMBED]).encode("utf-8")
        envelope = {
            "body": base64.b64encode(body).decode("ascii"),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                "correlation_id": task_id,
                "reply_to": self.app.thread_oid,  # Celery's per-thread id
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": route.queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        return json.dumps(envelope).encode("utf-8")

    def _route(self, job: Task) -> _Route | None:
        try:
            return self._routes[job.name]
        except KeyError:
            route = self._routes[job.name] = self._route_of(job)
            return route

    def _route_of(self, job: Task) -> _Route | None:
        job = self.app.tasks[job.name]  # the task itself, not shared_task's proxy
        conf = self.app.conf
        if (
            conf.task_protocol != 2
            or conf.task_send_sent_event
            or conf.task_compression
            or (job.serializer or conf.task_serializer) != "json"
            or conf.task_default_delivery_mode not in ("persistent", 2)
            or any(
                getattr(job, name, None) is not None
                for name in (
                    "expires",
                    "priority",
                    "exchange",
                    "routing_key",
                    "delivery_mode",
                    "compression",
                )
            )
            or type(job).shadow_name is not Task.shadow_name
        ):
            return None
        options = self.app.amqp.router.route({}, job.name, (), {}, job)
        queue = options.get("queue")
        if queue is None or getattr(queue, "exchange", None) is None:
            return None
        if queue.exchange.type != "direct" or options.get("priority"):
            return None
        return _Route(
            queue=queue.name,
            time_limit=job.time_limit,
            soft_time_limit=job.soft_time_limit,
            ignore_result=bool(job.ignore_result),
            repr_size=self.app.amqp.argsrepr_maxsize,
            repr_levels=conf.task_repr_maxlevels,
        )


def _signals_known(name: str) -> bool:
    """Only Grove's own receiver listens to publishing (its header is written above)."""
    from workers.signals import carry_request_id

    return before_task_publish._live_receivers(name) == [
        carry_request_id
    ] and not after_task_publish._live_receivers(name)


_publishers: dict[tuple[int, str, str], LeanPublisher | None] = {}
_lock = threading.Lock()


def publisher(app) -> LeanPublisher | None:
    """The lean publisher for ``app``'s broker as configured now (one per app and broker
    URL: a changed URL gets its own), or None where it cannot serve."""
    url = app.conf.broker_url or ""
    options = app.conf.broker_transport_options or {}
    key = (id(app), url, repr(sorted(options.items())))
    try:
        return _publishers[key]
    except KeyError:
        pass
    found = None
    target = lean_redis.target_of(url) if url.startswith(("redis://", "unix://")) else None
    if target is not None and not any(k in options for k in _KEY_CHANGING_OPTIONS):
        timeout = settings.GROVE_BROKER_SOCKET_TIMEOUT_SECONDS
        found = LeanPublisher(app, lean_redis.SyncScripts(target, timeout))
    with _lock:
        return _publishers.setdefault(key, found)
