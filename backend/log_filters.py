"""Logging filters: keep expected protocol answers out of the error log."""

from __future__ import annotations

import logging


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
