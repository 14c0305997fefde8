"""A keepalive sent to a socket whose client has just gone.

The server can learn that a client went away from the failed send itself (uvicorn raises
``ClientDisconnected``, an ``OSError``) before Channels runs the consumer's ``disconnect``.
Seen in ``bench/push_cycles.py``'s teardown: the keepalive task died with that error and
asyncio logged "Task exception was never retrieved" with its traceback, once per socket.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.utils import ClientDisconnected

from frontend_api.ws.base import ApiClientConsumer


async def test_a_keepalive_to_a_client_already_gone_ends_the_keepalives_quietly(settings):
    settings.GROVE_WS_KEEPALIVE_SECONDS = 0.01
    consumer = ApiClientConsumer()
    sent = []

    async def client_gone(content, close=False):
        sent.append(content)
        raise ClientDisconnected()

    consumer.send_json = client_gone
    keepalives = asyncio.create_task(consumer.send_keepalives())
    await asyncio.wait_for(asyncio.wait([keepalives]), 5)
    assert keepalives.done() and keepalives.exception() is None
    assert sent == [{"type": "keepalive"}]  # no second try on a socket known to be gone
    await consumer.disconnect(1000)  # the socket's own cleanup still runs after it
