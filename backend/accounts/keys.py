"""API keys and what is stored of them: a keyed digest, never a character of the key.

The stored digest is ``HMAC-SHA-256(GROVE_KEY_HASH_SECRET, SHA-256(key))``. The inner SHA-256
is the digest Grove stored before keys were keyed, so a migration re-keys those rows in place
and every key issued earlier keeps working (``0002_keyed_api_key_digest``). A stolen table is
of no use without the server secret; changing the secret makes every key invalid, so it is
set once per deployment (it defaults to SECRET_KEY).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

API_KEY_BYTES = 32
MIN_API_KEY_LENGTH = 32
KEY_ID_BYTES = 4


def generate_api_key() -> str:
    return secrets.token_urlsafe(API_KEY_BYTES)


def generate_key_id() -> str:
    """A short public label for a client's key (admin, logs); random, not part of the key."""
    return secrets.token_hex(KEY_ID_BYTES)


def key_hash_secret() -> bytes:
    return settings.GROVE_KEY_HASH_SECRET.encode("utf-8")


def keyed_digest(plain_digest: str, secret: bytes) -> str:
    """The stored form of a key whose unkeyed SHA-256 hex digest is ``plain_digest``."""
    return hmac.new(secret, plain_digest.encode("ascii"), hashlib.sha256).hexdigest()


def digest_api_key(api_key: str) -> str:
    plain = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    return keyed_digest(plain, key_hash_secret())
