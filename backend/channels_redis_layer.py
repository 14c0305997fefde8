"""The Redis channel layer, with a cancellation redis-py loses given back, and a send to an
empty group in one round trip.

A consumer's channel-layer receive waits in channels_redis's blocking pop (BZPOPMIN, up to
``brpop_timeout`` seconds) for the socket's next message. When the socket goes away, Channels
cancels that receive and waits for it to end. redis-py can swallow a cancellation that arrives
during a blocking command (redis/redis-py#2028): the pop then returns ``None`` as if it had
timed out, and channels_redis's ``while content is None`` loop pops again, for ever. A socket
that the server refused and that closed at once was never finished (tests/ws:
``test_a_refused_socket_that_goes_at_once_is_finished``).

Here a pop that returns while its task is being cancelled raises the cancellation, so the
consumer ends once the pop it was in returns (``brpop_timeout``, 1 s by default, at most). A message
it may have taken is not lost: channels_redis keeps each popped message in a backup queue
until the receive hands it on, and its next pop puts the backup back first.
"""

from __future__ import annotations

import asyncio
import time

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from django.conf import settings


class RedisChannelLayer(_RedisChannelLayer):
    # How long one blocking pop waits for a process's next message (channels_redis: 5 s). A
    # consumer whose socket went away ends only once its pop returns: a refused socket's
    # consumer, and with it the test that opened it, waited up to 5 s. One idle pop a second
    # per process is nothing to Redis.
    brpop_timeout = settings.GROVE_CHANNEL_LAYER_POP_SECONDS

    async def group_send(self, group, message):
        """channels_redis's, after one round trip that finds the group empty: it spent two
        (expire the group's stale members, then read them) on each of the events sent to
        user groups nobody follows, such as every claimed task's ``task_assigned``."""
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        pipe = self.connection(self.consistent_hash(group)).pipeline(transaction=False)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipe.zcard(key)
        _expired, members = await pipe.execute()
        if members:
            await super().group_send(group, message)

    async def _brpop_with_clean(self, index, channel, timeout):
        content = await super()._brpop_with_clean(index, channel, timeout)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        return content
