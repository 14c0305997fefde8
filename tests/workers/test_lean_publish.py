"""The lean publisher writes the message Celery would write (a real worker runs one:
``tests/workers/test_real_worker.py``)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from celery._state import _task_stack
from celery.signals import before_task_publish
from django.conf import settings

from backend.observability import context
from workers import lean_publish
from workers.celery import app
from workers.jobs import advance_tree_job, sweep_trees_job
from workers.monitoring import QUEUES
from workers.sending import send_job

pytestmark = [pytest.mark.workers]

# Random per message: compared for their relations, not their values.
_IDS = ("id", "root_id")
_PROPERTY_IDS = ("correlation_id", "delivery_tag")


@pytest.fixture
def broker():
    """The suite's broker Redis with eager mode off; the queues emptied before and after."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete(*QUEUES)
        try:
            yield client
        finally:
            app.conf.task_always_eager = eager
            client.delete(*QUEUES)


def _decoded(raw: bytes) -> dict:
    message = json.loads(raw)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return message


def _pop(client, queue: str) -> dict:
    raw = client.rpop(queue)
    assert raw is not None, f"nothing was written to {queue!r}"
    assert client.llen(queue) == 0
    return _decoded(raw)


def _without_ids(message: dict) -> dict:
    headers = {k: v for k, v in message["headers"].items() if k not in _IDS}
    properties = {k: v for k, v in message["properties"].items() if k not in _PROPERTY_IDS}
    return {**message, "headers": headers, "properties": properties}


@pytest.mark.parametrize(
    ("job", "args", "queue"),
    [(advance_tree_job, (str(uuid.uuid4()),), "tree"), (sweep_trees_job, (), "tree")],
    ids=["advance", "sweep"],
)
@pytest.mark.parametrize("request_id", [None, "req-lean-1"], ids=["no-request", "in-request"])
def test_the_lean_message_is_the_one_celery_writes(broker, job, args, queue, request_id):
    lean = lean_publish.publisher(app)
    assert lean is not None, "the suite's redis:// broker is one the lean path serves"
    token = context.request_id.set(request_id)
    try:
        job.apply_async(args=args)
        celery_message = _pop(broker, queue)
        assert lean.send(job, args) is True
        lean_message = _pop(broker, queue)
    finally:
        context.request_id.reset(token)

    assert _without_ids(lean_message) == _without_ids(celery_message)
    assert lean_message["body"][0] == list(args)
    headers, properties = lean_message["headers"], lean_message["properties"]
    assert headers["root_id"] == headers["id"] == properties["correlation_id"]
    assert properties["delivery_tag"] != headers["id"]
    assert headers.get(context.JOB_REQUEST_ID_HEADER) == request_id
    for message in (lean_message, celery_message):
        assert str(uuid.UUID(message["headers"]["id"])) == message["headers"]["id"]


def test_another_publish_receiver_sends_the_job_through_celery(broker):
    """A receiver the lean path does not know must see the publish: Celery sends it."""
    seen = []

    def receiver(sender=None, headers=None, **_extra):
        seen.append(sender)

    before_task_publish.connect(receiver, weak=False)
    try:
        lean = lean_publish.publisher(app)
        assert lean.send(advance_tree_job, (str(uuid.uuid4()),)) is False
        assert broker.llen("tree") == 0
        assert send_job(advance_tree_job, str(uuid.uuid4())) is True
        assert seen == [advance_tree_job.name]
        assert broker.llen("tree") == 1
    finally:
        before_task_publish.disconnect(receiver)


def test_a_job_sent_from_a_running_job_goes_through_celery(broker):
    """Celery records the running job as the new one's parent: the lean path steps aside."""

    class Running:
        class request:  # the attribute Celery reads
            id = "parent-job"
            root_id = "root-job"
            called_directly = False
            delivery_info: dict = {}

        def add_trail(self, result):  # Celery notes the new job on its parent
            return result

    _task_stack.push(Running())
    try:
        assert lean_publish.publisher(app).send(advance_tree_job, (str(uuid.uuid4()),)) is False
        assert send_job(advance_tree_job, str(uuid.uuid4())) is True
        headers = _pop(broker, "tree")["headers"]
        assert (headers["parent_id"], headers["root_id"]) == ("parent-job", "root-job")
    finally:
        _task_stack.pop()


def test_a_broker_the_lean_path_cannot_serve_gets_none():
    """TLS, or a key prefix in the transport options: Celery publishes (send_job's fallback);
    the publisher follows the broker URL as configured at each send."""
    served = lean_publish.publisher(app)
    assert served is not None
    url, options = app.conf.broker_url, app.conf.broker_transport_options
    try:
        app.conf.broker_url = "rediss://127.0.0.1:6380/1"
        assert lean_publish.publisher(app) is None
        app.conf.broker_url = url
        app.conf.broker_transport_options = {**(options or {}), "global_keyprefix": "grove:"}
        assert lean_publish.publisher(app) is None
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = url, options
    assert lean_publish.publisher(app) is served
