"""The Redis channel layer, with a cancellation redis-py loses given back.

A consumer's channel-layer receive waits in channels_redis's blocking pop (BZPOPMIN, up to
``brpop_timeout`` seconds) for the socket's next message. When the socket goes away, Channels
cancels that receive and waits for it to end. redis-py can swallow a cancellation that arrives
during a blocking command (redis/redis-py#2028): the pop then returns ``None`` as if it had
timed out, and channels_redis's ``while content is None`` loop pops again, for ever. A socket
that the server refused and that closed at once was never finished (tests/ws:
``test_a_refused_socket_that_goes_at_once_is_finished``).

Here a pop that returns while its task is being cancelled raises the cancellation, so the
consumer ends once the pop it was in returns (``brpop_timeout``, 5 s, at most). A message
it may have taken is not lost: channels_redis keeps each popped message in a backup queue
until the receive hands it on, and its next pop puts the backup back first.
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer


class RedisChannelLayer(_RedisChannelLayer):
    async def _brpop_with_clean(self, index, channel, timeout):
        content = await super()._brpop_with_clean(index, channel, timeout)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        return content
