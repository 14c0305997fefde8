"""Grove's errors as exceptions: the OA error code (and HTTP status) picks the class.

Every error Grove answers is ``{"message": ..., "error_code": ...}`` with OA's codes, over
REST (with an HTTP status) and over the socket (an ``{"type": "error", ...}`` frame).
"""

from __future__ import annotations


class GroveError(Exception):
    """Any error Grove answered. ``error_code`` is OA's ``OasstErrorCode`` number, ``status``
    the HTTP status (None for a socket frame)."""

    def __init__(self, message: str, error_code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status

    def __str__(self) -> str:
        where = f"HTTP {self.status}, " if self.status else ""
        return f"{self.message} ({where}error_code {self.error_code})"


class NotAuthorized(GroveError):
    """A missing, unknown or disabled API key (401/403, OA 2), or a refused socket (4401/4403)."""


class NoTaskAvailable(GroveError):
    """Nothing of the requested type for this user now (OA 1006, HTTP 503)."""


class TooManyPendingTasks(GroveError):
    """The user holds too many open tasks (OA 1012)."""


class TaskNotFound(GroveError):
    """No such task for this client (OA 2100) or no message by that frontend id (2000, 2001)."""


class TaskExpired(GroveError):
    """The task ran out before it was answered (OA 2101)."""


class TaskAlreadyUpdated(GroveError):
    """The task was acked, nacked or answered already (OA 2103, 2105)."""


class TaskNotAssigned(GroveError):
    """The task belongs to another user (OA 2106) or was not acked first (2104)."""


class InvalidAnswer(GroveError):
    """The answer was refused: empty, too long, a duplicate, a bad ranking or label set
    (OA 1003, 1008-1011, 2002-2011, 2050-2052, 2102, 2107), or a 422 validation error."""


class RateLimited(GroveError):
    """Too many requests (HTTP 429, OA 429); ``retry_after`` in seconds when Grove said."""

    def __init__(self, message: str, error_code=None, status=None, retry_after=None):
        super().__init__(message, error_code, status)
        self.retry_after = retry_after


class ServerError(GroveError):
    """Grove failed or is unavailable (5xx other than "no task")."""


class SocketClosed(GroveError):
    """Grove closed the push socket with a code the loop does not reconnect after (4401,
    4403: the key or ticket; 1008/1009: a refused frame)."""

    def __init__(self, message: str, close_code: int | None):
        super().__init__(message)
        self.close_code = close_code


_BY_CODE: dict[int, type[GroveError]] = {
    2: NotAuthorized,
    3: NotAuthorized,
    429: RateLimited,
    1006: NoTaskAvailable,
    1012: TooManyPendingTasks,
    2000: TaskNotFound,
    2001: TaskNotFound,
    2100: TaskNotFound,
    2101: TaskExpired,
    2103: TaskAlreadyUpdated,
    2105: TaskAlreadyUpdated,
    2104: TaskNotAssigned,
    2106: TaskNotAssigned,
}
_INVALID_ANSWER = {1003, 1008, 1009, 1010, 1011, 2102, 2107, *range(2002, 2012), 2050, 2051, 2052}


def error_from(body: object, status: int | None = None, retry_after=None) -> GroveError:
    """The exception for an error body (REST or socket frame) and its HTTP status."""
    data = body if isinstance(body, dict) else {}
    message = str(data.get("message") or data.get("detail") or f"HTTP {status}")
    code = data.get("error_code")
    code = code if isinstance(code, int) else None
    cls = _BY_CODE.get(code) if code is not None else None
    if cls is None and code in _INVALID_ANSWER:
        cls = InvalidAnswer
    if cls is None:
        cls = _class_of_status(status)
    if cls is RateLimited:
        return RateLimited(message, code, status, retry_after)
    return cls(message, code, status)


def _class_of_status(status: int | None) -> type[GroveError]:
    if status in (401, 403):
        return NotAuthorized
    if status == 422:
        return InvalidAnswer
    if status == 429:
        return RateLimited
    if status is not None and status >= 500:
        return ServerError
    return GroveError
