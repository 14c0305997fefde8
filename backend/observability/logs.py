"""JSON log lines (``GROVE_LOG_FORMAT=json``): one object per line, with the ids to join them.

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; Grove's own
``event=... key=value`` messages also give each pair as a field; ``request_id`` is the HTTP
request's (``X-Request-ID``) in the request and in the jobs it sent, ``job`` and ``job_id``
name the job run a worker's line comes from; uvicorn's access lines give ``client``,
``method``, ``path``, ``status``. Exceptions are one ``exception`` field, not extra lines.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from backend.observability import context

# Grove's messages: "event=job_failed job=grove.tree.advance error='...'"
_PAIR = re.compile(r"(?:^|\s)([a-z_]+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")
RESERVED = frozenset({"time", "level", "logger", "message", "request_id"})
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


def message_fields(message: str) -> dict[str, str]:
    if not message.startswith("event="):
        return {}
    return {key: value.strip("'\"") for key, value in _PAIR.findall(message) if key not in RESERVED}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            entry.update(zip(ACCESS_FIELDS, record.args, strict=False))
        else:
            entry.update(message_fields(message))
        request_id = context.request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        job = context.job.get()
        if job is not None:
            entry.setdefault("job", job[0])
            entry.setdefault("job_id", job[1])
        status = getattr(record, "status_code", None)
        if status is not None:
            entry.setdefault("status", status)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
