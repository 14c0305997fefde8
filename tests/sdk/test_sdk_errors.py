"""The SDK's error table: an OA error code (or, without one, the HTTP status) picks the class."""

from __future__ import annotations

import random

import pytest

from grove_sdk import errors
from grove_sdk.push import Backoff


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (1006, 503, errors.NoTaskAvailable),
        (2100, 404, errors.TaskNotFound),
        (2101, 409, errors.TaskExpired),
        (2103, 409, errors.TaskAlreadyUpdated),
        (2106, 403, errors.TaskNotAssigned),
        (1009, 400, errors.InvalidAnswer),
        (2051, 400, errors.InvalidAnswer),
        (1012, 429, errors.TooManyPendingTasks),
        (2, 401, errors.NotAuthorized),
        (None, 422, errors.InvalidAnswer),
        (None, 502, errors.ServerError),
        (0, 400, errors.GroveError),
    ],
)
def test_error_class_follows_the_oa_code_then_the_status(code, status, expected):
    body = {"message": "no", "error_code": code} if code is not None else {"detail": "no"}
    error = errors.error_from(body, status)
    assert type(error) is expected
    assert (error.error_code, error.status, error.message) == (code, status, "no")


def test_rate_limited_keeps_the_retry_after_seconds():
    error = errors.error_from({"message": "slow down", "error_code": 429}, 429, retry_after=7.0)
    assert isinstance(error, errors.RateLimited) and error.retry_after == 7.0


def test_a_socket_error_frame_has_no_status():
    error = errors.error_from({"type": "error", "message": "cap", "error_code": 429})
    assert isinstance(error, errors.RateLimited) and error.status is None


def test_backoff_doubles_within_jitter_up_to_its_ceiling():
    backoff = Backoff(first=1.0, most=8.0, rng=random.Random(3))
    delays = [backoff.delay(n) for n in range(6)]
    for n, delay in enumerate(delays):
        whole = min(8.0, 2.0**n)
        assert whole / 2 <= delay <= whole
    assert max(delays) <= 8.0
