"""backend.events: group names Channels accepts, pushes only after commit, failures logged."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer

from backend import events, listeners
from backend.trees.core.policy import TaskKind
from backend.trees.services.tasks import request_task
from tests.builders import make_user


@pytest.fixture
def a_socket_is_open():
    """Pushes are skipped while no event socket is open anywhere (``backend.listeners``)."""
    channel = f"specific.publishing-test!{uuid.uuid4().hex}"
    async_to_sync(listeners.seen)(channel)
    yield
    async_to_sync(listeners.gone)(channel)
    listeners.forget_count()


def test_group_names_are_valid_channels_group_names():
    layer = BaseChannelLayer()
    longest_lang = "x" * 32
    for name in (
        events.user_group(uuid.uuid4(), uuid.uuid4()),
        events.lang_group(uuid.uuid4(), longest_lang),
        events.ADMIN_GROUP,
    ):
        assert layer.require_valid_group_name(name)


def test_language_codes_outside_the_allowed_characters_are_rejected():
    with pytest.raises(ValueError):
        events.lang_group(uuid.uuid4(), "en us")


def test_user_events_need_their_client():
    with pytest.raises(ValueError):
        events.publish("task_assigned", {}, user_ids=[uuid.uuid4()])


@pytest.mark.django_db
def test_nothing_is_pushed_before_commit(
    django_capture_on_commit_callbacks, monkeypatch, a_socket_is_open
):
    monkeypatch.setattr(events, "get_channel_layer", lambda: pytest.fail("pushed too early"))
    with django_capture_on_commit_callbacks() as callbacks:
        request_task(user=make_user(), kind=TaskKind.INITIAL_PROMPT, lang="en")
    # The push, registered for after the commit and not yet run (beside it: the metrics count).
    pushes = [
        callback for callback in callbacks if callback.__qualname__ == "publish.<locals>.push"
    ]
    assert len(pushes) == 1


@pytest.mark.django_db
def test_failed_push_is_logged_and_the_service_succeeds(
    django_capture_on_commit_callbacks, monkeypatch, a_socket_is_open
):
    logged = []

    def broken_layer():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(events, "get_channel_layer", broken_layer)
    monkeypatch.setattr(events.logger, "exception", lambda msg, *args: logged.append(msg % args))
    user = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        task = request_task(user=user, kind=TaskKind.INITIAL_PROMPT, lang="en")
    assert task.user_id == user.id
    assert len(logged) == 1 and "event=push_failed type=task_assigned" in logged[0]
