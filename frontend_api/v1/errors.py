"""Open-Assistant's error wire format: ``{"message": ..., "error_code": ...}`` with OA's codes.

Every error a v1 endpoint returns goes through ``protocol_exception_handler``: domain errors
are mapped here (and only here) to a status and an OA error code; request validation errors
become 422 with the field errors; anything unexpected becomes a 500 that says nothing of the
internals. The push socket's answer frames (``frontend_api/ws/answers.py``) use the same
description (``describe_error``): the same code and message as REST, in an error frame.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from http import HTTPStatus

from django import db
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from backend.accounts import errors as accounts
from backend.stats.errors import CachedStatsNotAvailable
from backend.trees import errors as domain
from backend.trees.core.config import ConfigError
from backend.trees.core.lifecycle import InvalidTransition
from backend.trees.core.policy import NoTaskAvailable, TooManyPendingTasks
from backend.trees.growth_config import UnknownConfigVersion

logger = logging.getLogger("grove.api")
DATABASE_RETRY_AFTER_SECONDS = 5


class OasstErrorCode(enum.IntEnum):
    """OA's ``OasstErrorCode`` numbers (oasst_shared/exceptions/oasst_api_error.py)."""

    GENERIC_ERROR = 0
    API_CLIENT_NOT_AUTHORIZED = 2
    ROOT_TOKEN_NOT_AUTHORIZED = 3
    SORT_KEY_UNSUPPORTED = 100
    INVALID_CURSOR_VALUE = 101
    TOO_MANY_REQUESTS = 429
    SERVER_ERROR0 = 500
    SERVER_ERROR1 = 501
    TASK_INVALID_REQUEST_TYPE = 1000
    TASK_ACK_FAILED = 1001
    TASK_NACK_FAILED = 1002
    TASK_INVALID_RESPONSE_TYPE = 1003
    TASK_INTERACTION_REQUEST_FAILED = 1004
    TASK_GENERATION_FAILED = 1005
    TASK_REQUESTED_TYPE_NOT_AVAILABLE = 1006
    TASK_AVAILABILITY_QUERY_FAILED = 1007
    TASK_MESSAGE_TOO_LONG = 1008
    TASK_MESSAGE_DUPLICATED = 1009
    TASK_MESSAGE_TEXT_EMPTY = 1010
    TASK_MESSAGE_DUPLICATE_REPLY = 1011
    TASK_TOO_MANY_PENDING = 1012
    INVALID_FRONTEND_MESSAGE_ID = 2000
    MESSAGE_NOT_FOUND = 2001
    RATING_OUT_OF_RANGE = 2002
    INVALID_RANKING_VALUE = 2003
    INVALID_TASK_TYPE = 2004
    NO_MESSAGE_TREE_FOUND = 2006
    NO_REPLIES_FOUND = 2007
    INVALID_MESSAGE = 2008
    BROKEN_CONVERSATION = 2009
    TREE_NOT_IN_GROWING_STATE = 2010
    CORRUPT_RANKING_RESULT = 2011
    AUTH_AND_USERNAME_REQUIRED = 2012
    TEXT_LABELS_WRONG_MESSAGE_ID = 2050
    TEXT_LABELS_INVALID_LABEL = 2051
    TEXT_LABELS_MANDATORY_LABEL_MISSING = 2052
    TASK_NOT_FOUND = 2100
    TASK_EXPIRED = 2101
    TASK_PAYLOAD_TYPE_MISMATCH = 2102
    TASK_ALREADY_UPDATED = 2103
    TASK_NOT_ACK = 2104
    TASK_ALREADY_DONE = 2105
    TASK_NOT_ASSIGNED_TO_USER = 2106
    TASK_UNEXPECTED_PAYLOAD_TYPE = 2107
    USER_NOT_SPECIFIED = 4000
    USER_DISABLED = 4001
    USER_NOT_FOUND = 4002
    CACHED_STATS_NOT_AVAILABLE = 6000


class ProtocolError(drf.APIException):
    """An error with an OA error code; raise it from views for protocol-level failures."""

    def __init__(
        self,
        message: str,
        error_code: OasstErrorCode,
        status: int = HTTPStatus.BAD_REQUEST,
    ):
        super().__init__(detail=message)
        self.message = message
        self.error_code = error_code
        self.status_code = int(status)


# Domain error -> (HTTP status, OA error code). The only place this mapping lives; the first
# matching class wins, so a subclass comes before its base.
DOMAIN_ERRORS: dict[type[Exception], tuple[int, OasstErrorCode]] = {
    domain.TaskNotFound: (404, OasstErrorCode.TASK_NOT_FOUND),
    # OA raises TASK_NOT_ASSIGNED_TO_USER with OasstError's default status, 400.
    domain.TaskNotOwned: (400, OasstErrorCode.TASK_NOT_ASSIGNED_TO_USER),
    domain.TaskExpired: (400, OasstErrorCode.TASK_EXPIRED),
    domain.TaskAlreadyDone: (400, OasstErrorCode.TASK_ALREADY_DONE),
    domain.TaskAlreadyAcked: (400, OasstErrorCode.TASK_ALREADY_UPDATED),
    domain.TaskKindMismatch: (400, OasstErrorCode.TASK_PAYLOAD_TYPE_MISMATCH),
    domain.TextTooLong: (400, OasstErrorCode.TASK_MESSAGE_TOO_LONG),
    domain.TextEmpty: (400, OasstErrorCode.TASK_MESSAGE_TEXT_EMPTY),
    domain.DuplicateText: (400, OasstErrorCode.TASK_MESSAGE_DUPLICATED),
    domain.InvalidText: (400, OasstErrorCode.INVALID_MESSAGE),
    domain.MandatoryLabelsMissing: (400, OasstErrorCode.TEXT_LABELS_MANDATORY_LABEL_MISSING),
    domain.InvalidLabels: (400, OasstErrorCode.TEXT_LABELS_INVALID_LABEL),
    domain.InvalidRanking: (400, OasstErrorCode.INVALID_RANKING_VALUE),
    domain.MessageNotFound: (404, OasstErrorCode.MESSAGE_NOT_FOUND),
    domain.TreeNotFound: (404, OasstErrorCode.NO_MESSAGE_TREE_FOUND),
    domain.TargetUnavailable: (409, OasstErrorCode.TREE_NOT_IN_GROWING_STATE),
    domain.DuplicateFrontendMessageId: (409, OasstErrorCode.INVALID_FRONTEND_MESSAGE_ID),
    domain.ForeignApiClient: (403, OasstErrorCode.API_CLIENT_NOT_AUTHORIZED),
    accounts.UserNotFound: (404, OasstErrorCode.USER_NOT_FOUND),
    accounts.ForeignClientForbidden: (403, OasstErrorCode.API_CLIENT_NOT_AUTHORIZED),
    accounts.InvalidKeyset: (400, OasstErrorCode.GENERIC_ERROR),
    CachedStatsNotAvailable: (400, OasstErrorCode.CACHED_STATS_NOT_AVAILABLE),
    # OA raises TASK_TOO_MANY_PENDING with OasstError's default status, 400.
    TooManyPendingTasks: (400, OasstErrorCode.TASK_TOO_MANY_PENDING),
    NoTaskAvailable: (503, OasstErrorCode.TASK_REQUESTED_TYPE_NOT_AVAILABLE),
    InvalidTransition: (409, OasstErrorCode.GENERIC_ERROR),
    ConfigError: (422, OasstErrorCode.GENERIC_ERROR),
    UnknownConfigVersion: (404, OasstErrorCode.GENERIC_ERROR),
}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return ", ".join(_flatten(item) for item in detail)
    return str(detail)


@dataclass(frozen=True)
class DescribedError:
    """An error as Grove answers it: the HTTP status, OA's body, a Retry-After in seconds."""

    status: int
    body: dict
    retry_after: int | None = None


def describe_error(exc: Exception, where: str) -> DescribedError:
    """The answer to ``exc``, for REST (``protocol_exception_handler``) and for the socket's
    answer frames (``frontend_api/ws/answers.py``) alike; ``where`` names the view or command
    in the log lines."""
    if isinstance(exc, ProtocolError):
        return _described(exc.message, exc.error_code, exc.status_code)
    for error_type, (status, code) in DOMAIN_ERRORS.items():
        if isinstance(exc, error_type):
            extra = {"errors": exc.errors} if isinstance(exc, ConfigError) else {}
            message = getattr(exc, "message", None) or str(exc)
            return _described(message, code, status, **extra)
    if isinstance(exc, drf.ValidationError):
        return _described(
            f"invalid request: {_flatten(exc.detail)}",
            OasstErrorCode.GENERIC_ERROR,
            422,
            errors=exc.detail,
        )
    if isinstance(exc, RequestDataTooBig):
        return _described(
            f"request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
            OasstErrorCode.GENERIC_ERROR,
            413,
        )
    if isinstance(exc, drf.Throttled):
        wait = f"; retry in {int(exc.wait)} s" if exc.wait is not None else ""
        retry_after = int(exc.wait) + 1 if exc.wait is not None else None
        described = _described(f"too many requests{wait}", OasstErrorCode.TOO_MANY_REQUESTS, 429)
        return DescribedError(described.status, described.body, retry_after)
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed | PermissionDenied):
        return _described(
            str(getattr(exc, "detail", "") or "API key not authorized"),
            OasstErrorCode.API_CLIENT_NOT_AUTHORIZED,
            403,
        )
    if isinstance(exc, drf.PermissionDenied):
        return _described(str(exc.detail), OasstErrorCode.API_CLIENT_NOT_AUTHORIZED, 403)
    if isinstance(exc, Http404 | drf.NotFound):
        return _described("not found", OasstErrorCode.GENERIC_ERROR, 404)
    if isinstance(exc, drf.APIException):
        return _described(_flatten(exc.detail), OasstErrorCode.GENERIC_ERROR, exc.status_code)
    if isinstance(exc, db.OperationalError | db.InterfaceError):
        # Unreachable, refused, out of pooled connections, or a statement past its timeout:
        # the service is unavailable for now, not broken (no trace in the log, none sent).
        logger.warning("event=database_unavailable view=%s error=%r", where, exc)
        described = _described(
            "database unavailable, try again shortly", OasstErrorCode.SERVER_ERROR0, 503
        )
        return DescribedError(described.status, described.body, DATABASE_RETRY_AFTER_SECONDS)
    logger.exception("event=unhandled_error view=%s", where)
    return _described("internal server error", OasstErrorCode.SERVER_ERROR0, 500)


def _described(message: str, error_code: int, status: int, **extra) -> DescribedError:
    return DescribedError(int(status), {"message": message, "error_code": int(error_code), **extra})


def protocol_exception_handler(exc: Exception, context) -> Response:
    """DRF's EXCEPTION_HANDLER: every error in OA's shape."""
    described = describe_error(exc, type(context.get("view")).__name__)
    response = Response(described.body, status=described.status)
    if described.retry_after is not None:
        response["Retry-After"] = str(described.retry_after)
    return response


def not_found(request, exception=None):
    """handler404: API paths answer in OA's error shape; other paths get Django's page."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse(
            {"message": f"no endpoint at {request.path}", "error_code": 0}, status=404
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
