"""Domain errors of the stats app (mapped to OA codes in frontend_api/v1/errors.py)."""

from __future__ import annotations


class CachedStatsNotAvailable(Exception):
    """The named cached statistics have not been computed yet."""

    code = "cached_stats_not_available"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
