"""Logging filters: keep expected protocol answers out of the error log, secrets out of all."""

from __future__ import annotations

import logging
import re

# Query parameters that carry a credential: a websocket ticket (``?ticket=``, single use) and
# a key a careless client still puts in a URL (refused, yet logged). Their values never reach
# a log line.
SECRET_QUERY_PARAMETERS = ("api_key", "ticket", "token")
_SECRET_IN_QUERY = re.compile(
    r"(?P<name>(?:^|[?&;])(?:" + "|".join(SECRET_QUERY_PARAMETERS) + r")=)[^&;\s\"]*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
# uvicorn writes each request's path and query string to these: uvicorn.access for HTTP,
# uvicorn.error for a websocket's handshake ("WebSocket /ws/tasks/?api_key=..." [accepted]).
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


class ExpectedUnavailable(logging.Filter):
    """Drop django.request's error line for a 503 from the task endpoints.

    Open-Assistant's protocol answers "no task of this kind is available" with 503; that is
    routine when volunteers outnumber open slots, not a server error worth an alert.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 503:
            return True
        request = getattr(record, "request", None)
        path = getattr(request, "path", "") or ""
        return not path.startswith("/api/v1/tasks/")


def redact_query_secrets(text: str) -> str:
    """``/ws/tasks/?api_key=abc&x=1`` → ``/ws/tasks/?api_key=[redacted]&x=1``."""
    return _SECRET_IN_QUERY.sub(lambda match: match.group("name") + REDACTED, text)


class RedactQuerySecrets(logging.Filter):
    """Rewrite a record's message and string arguments without credentials from a URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def install_secret_redaction() -> None:
    """Attach ``RedactQuerySecrets`` to uvicorn's loggers (once per process).

    On the loggers, not in settings.LOGGING: dictConfig would drop the handlers uvicorn gave
    them (its own log format and the ``--no-access-log`` switch stay uvicorn's)."""
    for name in REDACTED_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in target.filters):
            target.addFilter(RedactQuerySecrets())
