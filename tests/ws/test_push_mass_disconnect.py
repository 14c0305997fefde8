"""Many sockets closing at once (a load balancer draining a web process, a bot's network
blip): every one of them is detached, however many there are at the same moment."""

from __future__ import annotations

import asyncio

import redis
from django.conf import settings

from backend.push import keys
from frontend_api.ws import dispatch
from tests.ws.conftest import ws_db

pytestmark = ws_db

SOCKETS = 400  # more than a Redis client's default pool (100 connections) at once


async def test_four_hundred_sockets_closing_at_once_are_all_detached(sockets):
    dispatcher = dispatch.dispatcher()
    sessions = [f"mass-{number}" for number in range(SOCKETS)]
    for session in sessions:
        await dispatcher.attach(session, channel=f"channel-{session}", client_id="bot")
    results = await asyncio.gather(
        *(dispatcher.detach(session) for session in sessions), return_exceptions=True
    )
    failures = [result for result in results if isinstance(result, BaseException)]
    assert failures == []
    client = redis.Redis.from_url(settings.GROVE_PUSH_REDIS_URL)
    alive = [client.exists(keys.session(session, "alive")) for session in sessions]
    assert sum(alive) == 0  # every session waits for its resume, none counts as connected
    assert client.zcard(keys.SESSION_DUE) >= SOCKETS
