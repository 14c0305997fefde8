"""Request throttling per API client and per acting user (rates from settings).

A refused request gets 429 in OA's error shape with a Retry-After header (see errors.py).
"""

from __future__ import annotations

import hashlib

from rest_framework.throttling import SimpleRateThrottle

from frontend_api.v1.auth import USER_HEADER


class ApiClientRateThrottle(SimpleRateThrottle):
    scope = "api_client"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.id}


class ActingUserRateThrottle(SimpleRateThrottle):
    """Keyed on the user a request acts for: X-OASST-USER, or the body's ``user`` object."""

    scope = "user"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        ident = request.META.get(USER_HEADER, "")
        if not ident and request.method in ("POST", "PUT", "PATCH"):
            data = request.data if isinstance(request.data, dict) else {}
            user = data.get("user") if isinstance(data.get("user"), dict) else None
            if user:
                ident = f"{user.get('auth_method')}:{user.get('id')}"
        if not ident:
            return None
        # The user part is the caller's free text: hashed, so any name makes a short key of
        # safe characters (cache backends refuse or warn on spaces, control characters, length).
        digest = hashlib.sha256(str(ident).encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": f"{request.auth.id}:{digest}"}
