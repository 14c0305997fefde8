"""OA's protocol types, as Grove sends and takes them (``frontend_api/v1``: the wire format).

Tasks stay the JSON Grove sent (OA's ``AnyTask``: a dict with ``id`` and ``type``, and per type
``conversation``, ``prompt``/``reply``, ``valid_labels``, ``replies``...); the names here are
for reading them and for the requests.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

Task = dict[str, Any]  # OA AnyTask JSON, as POST /tasks/ returns it


class TaskType(enum.StrEnum):
    """OA's ``TaskRequestType`` values Grove hands out."""

    RANDOM = "random"
    INITIAL_PROMPT = "initial_prompt"
    PROMPTER_REPLY = "prompter_reply"
    ASSISTANT_REPLY = "assistant_reply"
    RANK_PROMPTER_REPLIES = "rank_prompter_replies"
    RANK_ASSISTANT_REPLIES = "rank_assistant_replies"
    LABEL_INITIAL_PROMPT = "label_initial_prompt"
    LABEL_ASSISTANT_REPLY = "label_assistant_reply"
    LABEL_PROMPTER_REPLY = "label_prompter_reply"


REPLY_TYPES = frozenset(
    {TaskType.INITIAL_PROMPT, TaskType.PROMPTER_REPLY, TaskType.ASSISTANT_REPLY}
)
RANKING_TYPES = frozenset({TaskType.RANK_PROMPTER_REPLIES, TaskType.RANK_ASSISTANT_REPLIES})
LABEL_TYPES = frozenset(
    {TaskType.LABEL_INITIAL_PROMPT, TaskType.LABEL_ASSISTANT_REPLY, TaskType.LABEL_PROMPTER_REPLY}
)


def answer_kind(task: Task) -> str:
    """ "text", "ranking" or "labels": what kind of answer ``task`` takes."""
    kind = TaskType(task["type"])
    if kind in REPLY_TYPES:
        return "text"
    if kind in RANKING_TYPES:
        return "ranking"
    return "labels"


@dataclass(frozen=True)
class User:
    """OA's ``User``: the frontend's own id for the person, and how they signed in."""

    id: str
    display_name: str
    auth_method: str = "local"

    def wire(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def of(cls, value: User | dict) -> User:
        if isinstance(value, User):
            return value
        return cls(value["id"], value.get("display_name") or value["id"], value["auth_method"])
