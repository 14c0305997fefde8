"""API keys: generated with enough entropy that a plain SHA-256 digest is a safe thing to store."""

from __future__ import annotations

import hashlib
import secrets

API_KEY_BYTES = 32
API_KEY_PREFIX_LENGTH = 8
MIN_API_KEY_LENGTH = 16


def generate_api_key() -> str:
    return secrets.token_urlsafe(API_KEY_BYTES)


def digest_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()
