"""A real websocket to a live Grove (``tests.live.serve_grove``), for the tests of ``ws/tasks/``
through uvicorn and the Redis channel layer. What the server sends it is recorded with the
in-process sockets' frames (``communicator.SERVER_OUTPUT``), so the AsyncAPI check sees it."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import ClientConnection, connect

from tests.ws.communicator import SERVER_OUTPUT
from tests.ws.conftest import QUIET, TIMEOUT

PATH = "/ws/tasks/"


class LiveSocket:
    def __init__(self, connection: ClientConnection):
        self.connection = connection

    @classmethod
    async def open(cls, port: int, key: str) -> LiveSocket:
        connection = await connect(
            f"ws://127.0.0.1:{port}{PATH}", additional_headers={"X-API-Key": key}
        )
        return cls(connection)

    async def send(self, frame: dict | str) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout: float = TIMEOUT) -> dict:
        # recv is cancel-safe: a timeout loses no frame.
        frame = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
        SERVER_OUTPUT.append((PATH, {"type": "websocket.send", "text": json.dumps(frame)}))
        return frame

    async def receive_type(self, *types: str) -> dict:
        """The next frame of one of ``types``, skipping keepalives and other events."""
        for _ in range(50):
            frame = await self.receive()
            if frame["type"] in types:
                return frame
        raise AssertionError(f"none of {types} among 50 frames")

    async def command(self, frame: dict | str, *answers: str) -> dict:
        """Send a command; its answer (one of ``answers``, or an error), pushes skipped."""
        await self.send(frame)
        return await self.receive_type(*answers, "error")

    async def quiet(self, timeout: float = QUIET) -> bool:
        """Whether nothing but keepalives arrives for ``timeout`` seconds."""
        try:
            while True:
                frame = await self.receive(timeout)
                if frame["type"] != "keepalive":
                    return False
        except TimeoutError:
            return True

    async def close(self) -> None:
        await self.connection.close()
