"""``ws/health/``: a websocket that answers ping with pong, so a deployment can prove it serves
websockets end to end (server, ASGI router, consumer) without an API key or a tree."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class HealthConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "error": 'send {"type": "ping"}'})
