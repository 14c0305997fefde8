"""Grove's Redis channel layer (``backend.channels_redis_layer``) on the real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings

from tests.ws.conftest import TIMEOUT, ws_db

pytestmark = ws_db


def command_calls(client: redis.Redis, *names: str) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in names}


async def test_a_send_to_an_empty_group_is_one_round_trip_and_a_member_still_gets_it(sockets):
    layer = get_channel_layer()
    if "Redis" not in type(layer).__name__:
        pytest.skip("the Redis channel layer only")
    client = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    try:
        before = command_calls(client, "zrange", "zcard")
        await layer.group_send("nobody-follows", {"type": "grove.event", "n": 1})
        after = command_calls(client, "zrange", "zcard")
        # The group's members counted, not read (channels_redis read them in a second trip).
        assert after["zcard"] == before["zcard"] + 1
        assert after["zrange"] == before["zrange"]

        channel = await layer.new_channel()
        await layer.group_add("one-follows", channel)
        await layer.group_send("one-follows", {"type": "grove.event", "n": 2})
        assert (await asyncio.wait_for(layer.receive(channel), TIMEOUT))["n"] == 2
    finally:
        client.close()
