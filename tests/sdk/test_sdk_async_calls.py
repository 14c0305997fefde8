"""``AsyncGroveClient``'s task calls are ``GroveClient``'s, awaited: the same parameters and
documentation, as coroutines (the calls themselves run against Grove in
``tests/ws/test_sdk_async.py``)."""

from __future__ import annotations

import inspect

import pytest

from grove_sdk import AsyncGroveClient, GroveClient

CALLS = (
    "fetch_task",
    "ack_task",
    "nack_task",
    "post_interaction",
    "reply",
    "rank",
    "label",
    "task_availability",
    "ws_ticket",
)


@pytest.mark.parametrize("name", CALLS)
def test_each_awaited_call_takes_the_blocking_calls_parameters(name):
    blocking, awaited = getattr(GroveClient, name), getattr(AsyncGroveClient, name)

    assert inspect.iscoroutinefunction(awaited)
    assert inspect.signature(awaited) == inspect.signature(blocking)
    assert awaited.__doc__ == blocking.__doc__
