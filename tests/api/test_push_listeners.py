"""A request skips its websocket pushes when no event socket is open (``backend.listeners``)."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

from backend import listeners
from backend.events import user_group
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_layer(settings):
    """The production wiring: the Redis channel layer and the Redis throttle store."""
    if not settings.CACHE_URL:
        pytest.skip("needs Redis")
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.CACHE_URL], "prefix": "grove-test-listeners"},
        }
    }
    redis_client = listeners.redis.Redis.from_url(settings.CACHE_URL)
    redis_client.delete(listeners.KEY)
    yield redis_client
    redis_client.delete(listeners.KEY)


@pytest.fixture
def group_sends(monkeypatch):
    sent = []
    original = RedisChannelLayer.group_send

    async def counting(self, group, message):
        sent.append((group, message["event"]))
        return await original(self, group, message)

    monkeypatch.setattr(RedisChannelLayer, "group_send", counting)
    return sent


def _ask_for_a_task(frontend, capture) -> None:
    """A task request, its after-commit callbacks (the pushes) run as on a real commit."""
    make_tree(author=make_user(frontend.client_row))
    user = {"id": "listener-test", "display_name": "L", "auth_method": "local"}
    with capture(execute=True):
        response = frontend.post("tasks/", {"type": "random", "user": user})
    assert response.status_code == 200, response.content


def test_no_open_socket_no_push(
    frontend, redis_layer, group_sends, django_capture_on_commit_callbacks
):
    assert listeners.enabled()
    _ask_for_a_task(frontend, django_capture_on_commit_callbacks)
    assert group_sends == []


def test_an_open_socket_anywhere_gets_the_push(
    frontend, redis_layer, group_sends, django_capture_on_commit_callbacks
):
    async_to_sync(listeners.seen)("specific.another-process!abc")
    _ask_for_a_task(frontend, django_capture_on_commit_callbacks)
    assert [event for _group, event in group_sends] == ["task_assigned"]


def test_a_socket_not_seen_for_long_counts_as_closed(
    frontend, redis_layer, group_sends, django_capture_on_commit_callbacks
):
    stale = time.time() - listeners.STALE_SECONDS - 5
    redis_layer.zadd(listeners.KEY, {"specific.dead-process!abc": stale})
    _ask_for_a_task(frontend, django_capture_on_commit_callbacks)
    assert group_sends == []
    async_to_sync(listeners.gone)("specific.dead-process!abc")


def test_without_the_redis_layer_every_push_is_sent(
    frontend, settings, django_capture_on_commit_callbacks
):
    """The in-memory layer (the embedded profile): nothing counts sockets, every push goes."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert not listeners.enabled()
    user = make_user(frontend.client_row, username="listener-test")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(frontend.client_row.id, user.id), channel)
    _ask_for_a_task(frontend, django_capture_on_commit_callbacks)
    message = async_to_sync(asyncio.wait_for)(layer.receive(channel), 5)
    assert message["event"] == "task_assigned"


def test_a_job_outside_any_request_counts_the_sockets_itself(
    redis_layer, group_sends, django_capture_on_commit_callbacks
):
    """An advance job (no request, no throttle round trip) skips its pushes while no socket
    is open, and sends them once one is."""
    from backend.events import publish

    def publish_in_a_job():
        with django_capture_on_commit_callbacks(execute=True):
            publish("tree_state_changed", {"message_tree_id": "t"}, lang="en")

    listeners.forget_count()
    publish_in_a_job()
    assert group_sends == []
    async_to_sync(listeners.seen)("specific.another-process!job")
    publish_in_a_job()
    assert [event for _group, event in group_sends] == ["tree_state_changed"]
