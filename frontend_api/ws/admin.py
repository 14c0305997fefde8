"""``ws/admin/``: trusted clients' feed of engine events.

Every event published for the admin group is forwarded as ``{"type": <event>, **payload}``:
tree state changes (``tree_state_changed``), review outcomes and ranks (``message_*``), and
whatever queue or job event a service or job publishes with ``backend.events.publish`` (its
``admin=True`` default). Task hand-outs are per-user traffic and do not come here.
Untrusted clients are refused with close code 4403 (see ``base``).
"""

from __future__ import annotations

from backend import events
from frontend_api.ws.base import ApiClientConsumer


class AdminEventsConsumer(ApiClientConsumer):
    trusted_only = True

    async def on_authenticated(self) -> None:
        await self.join(events.ADMIN_GROUP)

    async def grove_event(self, message: dict) -> None:
        await self.push({"type": message["event"], **message["payload"]})
