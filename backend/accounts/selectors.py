"""Reads on API clients and users."""

from __future__ import annotations

from backend.accounts.keys import digest_api_key
from backend.accounts.models import ApiClient


def api_client_for_key(api_key: str) -> ApiClient | None:
    """The client holding ``api_key`` (enabled or not), or None."""
    if not api_key:
        return None
    return ApiClient.objects.filter(api_key_digest=digest_api_key(api_key)).first()


def enabled_api_client_ids() -> list:
    """Ids of the clients that may still call Grove (the audience of public broadcasts)."""
    return list(ApiClient.objects.filter(enabled=True).values_list("id", flat=True))
