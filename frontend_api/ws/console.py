"""``ws/console/``: the console page's live feed, for staff users logged into Django.

Authenticated by the Django session cookie (the admin's login), not by an API key: the page
is opened by a person. Because a cookie rides along on any page's socket, the ``Origin``
check (``base.is_allowed_origin``) is what keeps another site from opening it; a socket
without a staff session gets an error frame and close code 4401 (no login) or 4403 (not
staff, or a foreign Origin).

Frames sent:

- ``{"type": "overview", ...}``: ``backend.console.selectors.overview`` plus ``latency``
  (p50/p99 of task requests), ``unserved`` (task requests per language answered "no task
  available" in the last minute) and ``rest_active`` (distinct users per language who asked
  for a task over REST in the last five minutes), over every web process of the deployment
  (``backend.console.deployment``; ``latency.scope`` says "machine" when only this machine's
  processes could be read, and ``rest_active`` is then null);
  at connect, then every GROVE_CONSOLE_REFRESH_SECONDS, and shortly after each admin event;
- ``{"type": "event", "event": ..., "payload": {...}}``: every admin event as it happens
  (tree state changes, review outcomes, job failures, queue depths), the same feed as
  ``ws/admin/``.

Overviews come at least every GROVE_CONSOLE_REFRESH_SECONDS, so no keepalive is needed.

The client may send ``{"type": "ping"}`` (answered ``pong``) and ``{"type": "refresh"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from backend import events, listeners
from backend.console import local_metrics, selectors
from backend.observability.metrics import WS_CONNECTIONS, WS_CONNECTIONS_OPENED, WS_PUSHES
from frontend_api.v1.errors import OasstErrorCode
from frontend_api.ws.base import (
    CLOSE_FORBIDDEN,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHENTICATED,
    is_allowed_origin,
)

logger = logging.getLogger("grove.ws")

# Events arrive in bursts (one interaction can change several trees): an overview follows
# the first one after this pause, covering the whole burst.
EVENT_SETTLE_SECONDS = 0.3


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.staff = False
        await self.accept()
        user = self.scope.get("user")
        if not is_allowed_origin(self.scope):
            await self.refuse("this Origin may not open Grove sockets", CLOSE_FORBIDDEN)
            return
        if user is None or not user.is_authenticated:
            await self.refuse("log in to the Django admin first (/admin/)", CLOSE_UNAUTHENTICATED)
            return
        if not (user.is_active and user.is_staff):
            await self.refuse("the console is for staff users", CLOSE_FORBIDDEN)
            return
        self.staff = True
        self.route = self.scope.get("path", "")
        WS_CONNECTIONS_OPENED.labels(self.route).inc()
        WS_CONNECTIONS.labels(self.route).inc()
        # Counted as a listener, or services would skip publishing while only consoles are open.
        await listeners.seen(self.channel_name)
        await self.channel_layer.group_add(events.ADMIN_GROUP, self.channel_name)
        self.latency = local_metrics.LatencyWindow()
        self.unserved = local_metrics.CounterWindow()
        self.changed = asyncio.Event()
        self.refresher = asyncio.create_task(self.refresh_forever())

    async def refuse(self, message: str, close_code: int) -> None:
        error_code = OasstErrorCode.GENERIC_ERROR
        if close_code in (CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN):
            error_code = OasstErrorCode.API_CLIENT_NOT_AUTHORIZED
        await self.send_error(message, error_code)
        await self.close(code=close_code)

    async def send_error(
        self, message: str, error_code: OasstErrorCode = OasstErrorCode.GENERIC_ERROR
    ) -> None:
        await self.send_json({"type": "error", "message": message, "error_code": int(error_code)})

    async def disconnect(self, code) -> None:
        if not getattr(self, "staff", False):
            return
        self.staff = False
        WS_CONNECTIONS.labels(self.route).dec()
        self.refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.refresher
        await self.channel_layer.group_discard(events.ADMIN_GROUP, self.channel_name)
        await listeners.gone(self.channel_name)

    async def refresh_forever(self) -> None:
        interval = settings.GROVE_CONSOLE_REFRESH_SECONDS
        while True:
            try:
                await self.send_overview()
                await listeners.seen(self.channel_name)
            except Exception:  # a failed read (database restarting) is retried next round
                logger.warning("event=console_overview_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=interval)
                await asyncio.sleep(EVENT_SETTLE_SECONDS)
            self.changed.clear()

    async def send_overview(self) -> None:
        overview = await database_sync_to_async(selectors.overview)()
        overview.update(await asyncio.to_thread(self.request_figures))
        overview["work"] = selectors.with_rest_figures(
            overview["work"], overview["unserved"], overview["rest_active"]
        )
        await self.push({"type": "overview", **overview})

    def request_figures(self) -> dict:
        """Latency, "no task" answers and REST volunteers: of the whole deployment from Redis
        (``deployment``), else (embedded profile, Redis down) of this machine's processes."""
        figures = selectors.request_figures(timezone.now())
        if figures["latency"] is not None:
            return figures
        buckets, unserved = local_metrics.sample_machine()
        return {
            "latency": {**self.latency.observe(buckets), "scope": "machine"},
            "unserved": self.unserved.observe(unserved),
            "rest_active": None,
        }

    async def push(self, frame: dict) -> None:
        WS_PUSHES.labels(frame["type"]).inc()
        await self.send_json(frame)

    async def grove_event(self, message: dict) -> None:
        await self.push({"type": "event", "event": message["event"], "payload": message["payload"]})
        self.changed.set()

    async def receive_json(self, content, **kwargs) -> None:
        if not self.staff or getattr(self, "refused", False):
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "refresh":
            self.changed.set()
        else:
            await self.send_error(f"unknown message type {kind!r}")

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if text_data and len(text_data.encode("utf-8")) > settings.GROVE_WS_MAX_FRAME_BYTES:
            await self.refuse(
                f"a frame holds at most {settings.GROVE_WS_MAX_FRAME_BYTES} bytes", CLOSE_TOO_BIG
            )
            self.refused = True  # whatever else arrives before the close is ignored
            return
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:
            await self.send_error("send one JSON object per frame")
