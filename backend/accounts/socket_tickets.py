"""Websocket tickets: a browser opens a socket without its API key in the URL.

A frontend's server asks ``POST /api/v1/ws_tickets/`` (``X-API-Key``) for a ticket and hands
it to the page, which connects to ``ws/tasks/?ticket=...``. A ticket names one API client,
lives GROVE_WS_TICKET_SECONDS (60 s) and opens one socket: the first redemption deletes it.
Only a digest of the ticket is stored (in the cache: Redis in production, so every web
process can redeem what another issued), so the cache never holds a usable credential.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from backend.accounts.models import ApiClient

CACHE_PREFIX = "ws_ticket:"


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    expires_in: int  # seconds


def _cache_key(ticket: str) -> str:
    return CACHE_PREFIX + hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def issue_ticket(*, api_client: ApiClient) -> IssuedTicket:
    ticket = secrets.token_urlsafe(32)
    lifetime = settings.GROVE_WS_TICKET_SECONDS
    cache.set(_cache_key(ticket), str(api_client.id), timeout=lifetime)
    return IssuedTicket(ticket=ticket, expires_in=lifetime)


def redeem_ticket(ticket: str) -> uuid.UUID | None:
    """The API client id the ticket was issued to, once; None when unknown, expired or used.

    ``delete`` answers True to one caller only (Redis ``DEL`` counts the keys it removed), so
    two sockets racing with one ticket cannot both open."""
    if not ticket or len(ticket) > 256:
        return None
    key = _cache_key(ticket)
    client_id = cache.get(key)
    if client_id is None or not cache.delete(key):
        return None
    return uuid.UUID(client_id)
