"""A Python client for Grove: OA's REST task calls, push dispatch, typed errors."""

from grove_sdk.aio import AsyncGroveClient, AsyncPushedTask, AsyncPushLoop
from grove_sdk.client import GroveClient
from grove_sdk.errors import (
    GroveError,
    InvalidAnswer,
    NoTaskAvailable,
    NotAuthorized,
    RateLimited,
    ServerError,
    SocketClosed,
    TaskAlreadyUpdated,
    TaskExpired,
    TaskNotAssigned,
    TaskNotFound,
    TooManyPendingTasks,
)
from grove_sdk.push import Backoff, PushedTask, PushLoop
from grove_sdk.types import Task, TaskType, User

__all__ = [
    "AsyncGroveClient",
    "AsyncPushLoop",
    "AsyncPushedTask",
    "Backoff",
    "GroveClient",
    "GroveError",
    "InvalidAnswer",
    "NoTaskAvailable",
    "NotAuthorized",
    "PushLoop",
    "PushedTask",
    "RateLimited",
    "ServerError",
    "SocketClosed",
    "Task",
    "TaskAlreadyUpdated",
    "TaskExpired",
    "TaskNotAssigned",
    "TaskNotFound",
    "TaskType",
    "TooManyPendingTasks",
    "User",
]
