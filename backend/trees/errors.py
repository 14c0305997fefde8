"""Domain errors of the tree engine. Each has a stable ``code``; the v1 protocol layer maps
codes to Open-Assistant's numeric error codes and HTTP statuses."""

from __future__ import annotations


class TreeEngineError(Exception):
    code = "tree_engine_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TaskNotFound(TreeEngineError):
    code = "task_not_found"


class TaskNotOwned(TreeEngineError):
    code = "task_not_owned"


class TaskExpired(TreeEngineError):
    code = "task_expired"


class TaskAlreadyDone(TreeEngineError):
    code = "task_already_done"


class TaskAlreadyAcked(TreeEngineError):
    code = "task_already_acked"


class TaskKindMismatch(TreeEngineError):
    code = "task_kind_mismatch"


class InvalidText(TreeEngineError):
    code = "invalid_text"


class TextEmpty(InvalidText):
    code = "text_empty"


class TextTooLong(InvalidText):
    code = "text_too_long"


class DuplicateText(InvalidText):
    """The user sent this very text recently (OA's duplicate filter)."""

    code = "duplicate_text"


class InvalidLabels(TreeEngineError):
    code = "invalid_labels"


class MandatoryLabelsMissing(InvalidLabels):
    """Every label sent is valid, but a label the task requires is absent."""

    code = "mandatory_labels_missing"


class InvalidRanking(TreeEngineError):
    code = "invalid_ranking"


class MessageNotFound(TreeEngineError):
    code = "message_not_found"


class TreeNotFound(TreeEngineError):
    code = "tree_not_found"


class TargetUnavailable(TreeEngineError):
    """The node a task was for can no longer take the work (deleted, tree moved on)."""

    code = "target_unavailable"


class DuplicateFrontendMessageId(TreeEngineError):
    code = "duplicate_frontend_message_id"


class ForeignApiClient(TreeEngineError):
    """An untrusted API client asked for what only the owning client (or a trusted one) sees."""

    code = "foreign_api_client"
