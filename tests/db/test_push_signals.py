"""What the services tell push dispatch costs nothing while nobody is ready, and reaches
Redis after the commit when someone is."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from backend.push import keys, signals
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def work_channel():
    client = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    client.delete(keys.ACTIVE)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.WORK_CHANNEL)
    signals.forget_active()
    yield client, pubsub
    pubsub.close()
    client.delete(keys.ACTIVE)
    signals.forget_active()


def messages(pubsub) -> list[str]:
    found = []
    while (message := pubsub.get_message(timeout=0.2)) is not None:
        found.append(message["data"].decode())
    return found


def test_a_new_tree_signals_nothing_while_nobody_is_ready(
    work_channel, django_capture_on_commit_callbacks
):
    _client, pubsub = work_channel
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_tree(author=make_user(), lang="de")
    assert callbacks == []  # not even a callback: no Redis call on the request path
    assert messages(pubsub) == []


def test_a_new_tree_signals_its_language_after_commit_when_someone_is_ready(
    work_channel, django_capture_on_commit_callbacks
):
    client, pubsub = work_channel
    client.set(keys.ACTIVE, 1, ex=10)
    signals.forget_active()
    with django_capture_on_commit_callbacks(execute=True):
        make_tree(author=make_user(), lang="de")
        assert messages(pubsub) == []  # nothing before the commit
    assert set(messages(pubsub)) == {"de"}
