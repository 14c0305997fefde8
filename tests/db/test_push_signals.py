"""What the services tell push dispatch costs nothing while nobody is ready, and reaches
Redis after the commit when someone is."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

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
    pubsub.subscribe(signals.work_channel())
    signals.forget_active()
    yield client, pubsub
    pubsub.close()
    client.delete(keys.ACTIVE)
    signals.forget_active()


def messages(pubsub, seconds: float = 0.3) -> list[str]:
    """What the channel heard within ``seconds`` (get_message also answers None for a
    subscription's own confirmation, which it skips: None does not mean "nothing more")."""
    found, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message is not None:
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


@pytest.fixture
def waiting_in(work_channel):
    """Someone is ready (``grove:push:active``) and waits in the line of each language given:
    a (made-up) entry in each, as a ``ready`` would put there."""
    client, _pubsub = work_channel
    lines = []

    def wait(*langs: str) -> None:
        client.set(keys.ACTIVE, 1, ex=10)
        signals.forget_active()
        for lang in langs:
            client.zadd(keys.ready(lang), {f"entry-{lang}": time.time() * 1000})
            lines.append(keys.ready(lang))

    yield wait
    if lines:
        client.delete(*lines)


def test_a_new_tree_signals_its_language_after_commit_when_someone_is_ready(
    work_channel, waiting_in, django_capture_on_commit_callbacks
):
    _client, pubsub = work_channel
    waiting_in("de")
    with django_capture_on_commit_callbacks(execute=True):
        make_tree(author=make_user(), lang="de")
        assert messages(pubsub) == []  # nothing before the commit
    assert set(messages(pubsub)) == {"de"}


def test_work_is_signalled_only_for_languages_someone_waits_in(
    work_channel, waiting_in, django_capture_on_commit_callbacks
):
    """A signal for a line with nobody in it ran a round in every web process for nobody
    (TAKE_ROUND's '-'): the sender leaves it out."""
    _client, pubsub = work_channel
    waiting_in("fr")
    with django_capture_on_commit_callbacks(execute=True):
        make_tree(author=make_user(), lang="de")
        signals.work_changed(["it", "fr"])
    # Sockets are ready (ACTIVE), but nobody waits in de or it.
    assert messages(pubsub) == ["fr"]


def test_work_signals_are_not_heard_by_an_instance_on_another_redis_database(
    work_channel, waiting_in, settings, django_capture_on_commit_callbacks
):
    """Pub/sub channels are shared by every database of a Redis server: a suite on db 2 heard
    a suite on db 15 (a flake source). Each instance's channel carries its database number."""
    client, own = work_channel
    waiting_in("de")
    mine = settings.GROVE_PUSH_REDIS_URL
    db = keys.redis_db(mine)
    # Far from this one: parallel workers of the suite run on the databases just below it.
    theirs = urlsplit(mine)._replace(path=f"/{(db + 8) % 16}", query="").geturl()
    other = client.pubsub(ignore_subscribe_messages=True)
    other.subscribe(keys.work_channel(theirs))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            make_tree(author=make_user(), lang="de")
        assert set(messages(own)) == {"de"}
        assert messages(other) == []
    finally:
        other.close()


def test_the_work_channel_names_the_database_as_redis_py_reads_it():
    assert keys.work_channel("redis://127.0.0.1:6379/2") == "grove:push:2:work"
    assert keys.work_channel("redis://127.0.0.1:6379?db=7") == "grove:push:7:work"
    assert keys.work_channel("redis://127.0.0.1:6379") == "grove:push:0:work"
