"""A websocket test client speaking ASGI to the application in-process.

It has the interface of Channels' ``channels.testing.WebsocketCommunicator``; that module
cannot be imported without Daphne (``channels.testing`` imports its live-server test case,
which needs Daphne and Twisted), and the suite does not pull in a second web server for it.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlparse

from asgiref.testing import ApplicationCommunicator

# Every frame and close the server sent to any test socket, as (socket path, ASGI message):
# tests/ws/test_asyncapi.py checks them against the AsyncAPI document.
SERVER_OUTPUT: list[tuple[str, dict]] = []


class WebsocketCommunicator(ApplicationCommunicator):
    def __init__(self, application, path: str, headers: list | None = None):
        parsed = urlparse(path)
        scope = {
            "type": "websocket",
            "path": unquote(parsed.path),
            "raw_path": parsed.path.encode("latin-1"),
            "query_string": parsed.query.encode("latin-1"),
            "headers": headers or [],
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def receive_output(self, timeout: float = 1) -> dict:
        output = await super().receive_output(timeout)
        SERVER_OUTPUT.append((self.scope["path"], output))
        return output

    async def connect(self, timeout: float = 1) -> tuple[bool, int | str | None]:
        """(True, subprotocol) when accepted, (False, close code) when refused."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, response.get("subprotocol")

    async def send_to(self, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def send_json_to(self, data) -> None:
        await self.send_to(json.dumps(data))

    async def receive_json_from(self, timeout: float = 1):
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", f"expected a frame, got {response}"
        return json.loads(response["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)
