"""What Grove's event sockets share: API-key authentication, OA-shaped errors, group upkeep.

Authentication happens at the handshake, from the ``X-API-Key`` header (bots, servers) or, for
browsers (which cannot set headers on a websocket), a single-use ``ticket`` query parameter
from ``POST /api/v1/ws_tickets/`` (``backend.accounts.socket_tickets``). An API key in the URL
(``?api_key=``, accepted before tickets existed) is refused: it would land in access logs.
A refused socket is accepted and then closed, after one OA-shaped error frame, so that every
client (browsers included, which never see a rejected handshake's status) learns why:

    {"type": "error", "message": "...", "error_code": 2}  then close code 4401 (or 4403)

A browser's socket (one with an ``Origin`` header) is refused the same way, with 4403, unless
the origin's host is the host the socket was opened on or matches GROVE_WS_ALLOWED_ORIGINS
(default: GROVE_ALLOWED_HOSTS); a socket without ``Origin`` (a bot, a server) is not checked.
A frame longer than GROVE_WS_MAX_FRAME_BYTES closes the socket with 1009 (message too big)
after an error frame; run uvicorn with ``--ws-max-size`` at that size so that it never reads
more (scripts/run does).

An accepted socket gets ``{"type": "keepalive"}`` every GROVE_WS_KEEPALIVE_SECONDS (25 s by
default), so a quiet socket never meets a proxy's idle timeout (nginx's 60 s
``proxy_read_timeout``, most load balancers' 60 s); clients ignore it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import parse_qs, urlsplit

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils.http import is_same_domain

from backend import listeners
from backend.accounts.models import ApiClient
from backend.accounts.selectors import api_client_for_key
from backend.accounts.socket_tickets import redeem_ticket
from backend.observability.metrics import WS_CONNECTIONS, WS_CONNECTIONS_OPENED, WS_PUSHES
from frontend_api.v1.auth import named_user
from frontend_api.v1.errors import OasstErrorCode, ProtocolError

logger = logging.getLogger("grove.ws")

CLOSE_UNAUTHENTICATED = 4401  # no key, an unknown key or a disabled client
CLOSE_FORBIDDEN = 4403  # a valid client that may not use this socket, or a foreign Origin
CLOSE_TOO_BIG = 1009  # RFC 6455 "message too big": a frame over GROVE_WS_MAX_FRAME_BYTES
REQUEST_ID_MAX_LENGTH = 128


def header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""


def is_allowed_origin(scope: dict) -> bool:
    """No Origin (not a browser), the socket's own host, or a host GROVE_WS_ALLOWED_ORIGINS
    allows (Django's host patterns: ``.example.org`` for subdomains, ``*`` for any)."""
    origin = header(scope, b"origin")
    if not origin:
        return True
    origin_host = urlsplit(origin).hostname or ""
    own_host = urlsplit("//" + header(scope, b"host")).hostname or ""
    if origin_host and origin_host == own_host:
        return True
    patterns = (p.strip("[]") for p in settings.GROVE_WS_ALLOWED_ORIGINS)  # "[::1]" -> "::1"
    return any(is_same_domain(origin_host, pattern) for pattern in patterns)


def query_parameter(scope: dict, name: str) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get(name) or [""])[0].strip()


KEY_IN_URL = (
    "an API key in the URL is not accepted (it lands in access logs): send X-API-Key, or "
    "get a ticket from POST /api/v1/ws_tickets/ and connect with ?ticket=<ticket>"
)
UNAUTHENTICATED = (
    "API key not authorized (X-API-Key header, or a ticket from POST /api/v1/ws_tickets/ as "
    "?ticket=; a ticket opens one socket within its expires_in seconds)"
)


def client_for_handshake(scope: dict) -> ApiClient | None:
    """The enabled client the handshake authenticates: its X-API-Key, else its ticket."""
    key = header(scope, b"x-api-key")
    if key:
        client = api_client_for_key(key)
    else:
        client_id = redeem_ticket(query_parameter(scope, "ticket"))
        client = ApiClient.objects.filter(id=client_id).first() if client_id else None
    return client if client is not None and client.enabled else None


class ApiClientConsumer(AsyncJsonWebsocketConsumer):
    """A socket owned by one API client; subclasses join groups in ``on_authenticated``."""

    trusted_only = False

    async def dispatch(self, message) -> None:
        """A message to its handler, without Channels' ``aclose_old_connections`` first.

        Channels sends every message of every socket (a frame received, a task pushed)
        through its one thread for database work to close stale connections before the
        handler runs, so a socket's ack waited for whatever another socket of the process
        was doing there. Nothing runs on the database here but through
        ``database_sync_to_async``, which closes stale connections in its own thread, before
        and after each call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.client: ApiClient | None = None
        self.joined: set[str] = set()
        self.listening = False  # counted in ``backend.listeners`` (from the first join)
        key_in_url = bool(query_parameter(self.scope, "api_key"))
        client = None
        if not key_in_url:
            client = await database_sync_to_async(client_for_handshake)(self.scope)
        await self.accept()
        if not is_allowed_origin(self.scope):
            await self.refuse(
                "this Origin may not open Grove sockets (GROVE_WS_ALLOWED_ORIGINS)",
                OasstErrorCode.API_CLIENT_NOT_AUTHORIZED,
                CLOSE_FORBIDDEN,
            )
            return
        if client is None:
            await self.refuse(
                KEY_IN_URL if key_in_url else UNAUTHENTICATED,
                OasstErrorCode.API_CLIENT_NOT_AUTHORIZED,
                CLOSE_UNAUTHENTICATED,
            )
            return
        if self.trusted_only and not client.trusted:
            await self.refuse(
                "this socket needs a trusted API client",
                OasstErrorCode.API_CLIENT_NOT_AUTHORIZED,
                CLOSE_FORBIDDEN,
            )
            return
        self.client = client
        self.counted_route = self.scope.get("path", "")
        WS_CONNECTIONS_OPENED.labels(self.counted_route).inc()
        WS_CONNECTIONS.labels(self.counted_route).inc()
        self.keepalive = asyncio.create_task(self.send_keepalives())
        await self.on_authenticated()

    async def on_authenticated(self) -> None:
        """Called once the client is known; join the socket's fixed groups here."""

    async def send_keepalives(self) -> None:
        interval = settings.GROVE_WS_KEEPALIVE_SECONDS
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send_json({"type": "keepalive"})
            except OSError:
                # The client is gone (uvicorn's ClientDisconnected) and the consumer's
                # disconnect is on its way: nothing more to keep alive.
                return
            if self.listening:
                await listeners.seen(self.channel_name)

    async def disconnect(self, code) -> None:
        counted_route = getattr(self, "counted_route", None)
        if counted_route is not None:
            WS_CONNECTIONS.labels(counted_route).dec()
            self.counted_route = None
        if getattr(self, "listening", False):
            self.listening = False
            await listeners.gone(self.channel_name)
        keepalive = getattr(self, "keepalive", None)
        if keepalive is not None:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
        for group in list(getattr(self, "joined", ())):
            await self.leave(group)

    async def push(self, frame: dict) -> None:
        """Send an event frame (a ``backend.events`` push), counted by its type."""
        WS_PUSHES.labels(frame["type"]).inc()
        await self.send_json(frame)

    async def user_within_cap(self, protocol_user: dict, held, cap: int, what: str):
        """The user ``protocol_user`` names (created if new), unless the socket already holds
        ``cap`` users in ``held`` (keyed by ``(auth_method, id)``) and this is not one of them;
        None after an error frame when refused."""
        key = (protocol_user["auth_method"], protocol_user["id"])
        if key not in held and len(held) >= cap:
            await self.send_error(
                f"a socket has at most {cap} {what}", OasstErrorCode.TOO_MANY_REQUESTS
            )
            return None
        try:
            return await database_sync_to_async(named_user)(self.client, protocol_user)
        except ProtocolError as exc:
            await self.send_error(exc.message, exc.error_code)
            return None

    async def refuse(self, message: str, error_code: OasstErrorCode, close_code: int) -> None:
        await self.send_error(message, error_code)
        await self.close(code=close_code)

    async def send_error(self, message: str, error_code: OasstErrorCode, **extra) -> None:
        await self.reply(
            {"type": "error", "message": message, "error_code": int(error_code), **extra}
        )

    async def reply(self, frame: dict) -> None:
        """Send the answer to the command under way, with the ``request_id`` it came with."""
        request_id = getattr(self, "request_id", None)
        await self.send_json(frame if request_id is None else {**frame, "request_id": request_id})

    async def join(self, group: str) -> None:
        # Sockets that can hear events are counted across processes: a request nobody can
        # hear skips its pushes (``backend.listeners``). Counted from the first group on (a
        # socket that only waits for pushed work hears no event), before it is joined.
        if not self.listening:
            await listeners.seen(self.channel_name)
            self.listening = True
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        self.joined.discard(group)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self.client is None:
            return  # refused; the close is on its way
        size = len(text_data.encode("utf-8")) if text_data else len(bytes_data or b"")
        if size > settings.GROVE_WS_MAX_FRAME_BYTES:
            await self.refuse(
                f"a frame holds at most {settings.GROVE_WS_MAX_FRAME_BYTES} bytes",
                OasstErrorCode.GENERIC_ERROR,
                CLOSE_TOO_BIG,
            )
            self.client = None  # ignore whatever else arrives before the close
            return
        try:
            content = json.loads(text_data) if text_data else None
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self.send_error("send one JSON object per frame", OasstErrorCode.GENERIC_ERROR)
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: dict, **kwargs) -> None:
        """One command; its answer and errors echo its ``request_id`` (a client's string of at
        most REQUEST_ID_MAX_LENGTH characters, or an integer), so that a client can match
        answers to commands sent without waiting."""
        request_id = content.get("request_id")
        if not (
            request_id is None
            or (isinstance(request_id, int) and not isinstance(request_id, bool))
            or (isinstance(request_id, str) and len(request_id) <= REQUEST_ID_MAX_LENGTH)
        ):
            await self.send_error(
                f"request_id is a string of at most {REQUEST_ID_MAX_LENGTH} characters, or an "
                "integer",
                OasstErrorCode.GENERIC_ERROR,
            )
            return
        self.request_id = request_id
        try:
            if content.get("type") == "ping":
                await self.reply({"type": "pong"})
                return
            await self.on_command(content)
        finally:
            self.request_id = None

    async def on_command(self, content: dict) -> None:
        await self.send_error(
            f"unknown message type {content.get('type')!r}", OasstErrorCode.GENERIC_ERROR
        )
