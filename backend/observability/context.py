"""The ids a log line carries: the HTTP request's id, and the job run's when in a worker.

A request's id comes from its ``X-Request-ID`` header (set by a proxy or a frontend) when it
is a plausible id, else it is made here; the response echoes it. A job sent while the request
runs carries it in a message header (``workers/signals.py``), so the request's and the job's
log lines share it.
"""

from __future__ import annotations

import contextvars
import os
import re

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# The Celery message header that carries the sending request's id.
JOB_REQUEST_ID_HEADER = "grove_request_id"
_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "grove_request_id", default=None
)
job: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "grove_job", default=None
)


def incoming_request_id(value: str | None) -> str:
    """The caller's id if it is one (letters, digits, ``._:-``, at most 128), else a new one."""
    if value and _PLAUSIBLE_ID.match(value):
        return value
    return os.urandom(16).hex()  # a uuid4's randomness, without building a UUID (~2 µs less)
