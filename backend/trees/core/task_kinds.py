"""Task kinds and roles as the v1 protocol names them (OA ``TaskRequestType``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class TaskKind(enum.StrEnum):
    """OA ``TaskRequestType`` values that Grove serves (the legacy summarize_story and
    rate_summary kinds are left out)."""

    RANDOM = "random"
    INITIAL_PROMPT = "initial_prompt"
    PROMPTER_REPLY = "prompter_reply"
    ASSISTANT_REPLY = "assistant_reply"
    RANK_INITIAL_PROMPTS = "rank_initial_prompts"
    RANK_PROMPTER_REPLIES = "rank_prompter_replies"
    RANK_ASSISTANT_REPLIES = "rank_assistant_replies"
    LABEL_INITIAL_PROMPT = "label_initial_prompt"
    LABEL_ASSISTANT_REPLY = "label_assistant_reply"
    LABEL_PROMPTER_REPLY = "label_prompter_reply"


class TaskCategory(enum.StrEnum):
    """OA's internal ``TaskType``: the kinds grouped the way the random draw weighs them."""

    RANKING = "ranking"
    LABEL_REPLY = "label_reply"
    REPLY = "reply"
    LABEL_PROMPT = "label_prompt"
    PROMPT = "prompt"


class Role(enum.StrEnum):
    PROMPTER = "prompter"
    ASSISTANT = "assistant"


# OA ``_random_task_selection``: relative weight of each category that has any work.
RANDOM_TASK_WEIGHTS: Mapping[TaskCategory, float] = {
    TaskCategory.RANKING: 10,
    TaskCategory.LABEL_REPLY: 5,
    TaskCategory.REPLY: 2,
    TaskCategory.LABEL_PROMPT: 5,
    TaskCategory.PROMPT: 0.01,
}
_CATEGORY_ORDER = tuple(RANDOM_TASK_WEIGHTS)

K = TaskKind
CATEGORY_OF: Mapping[TaskKind, TaskCategory] = {
    K.INITIAL_PROMPT: TaskCategory.PROMPT,
    K.PROMPTER_REPLY: TaskCategory.REPLY,
    K.ASSISTANT_REPLY: TaskCategory.REPLY,
    K.RANK_INITIAL_PROMPTS: TaskCategory.RANKING,
    K.RANK_PROMPTER_REPLIES: TaskCategory.RANKING,
    K.RANK_ASSISTANT_REPLIES: TaskCategory.RANKING,
    K.LABEL_INITIAL_PROMPT: TaskCategory.LABEL_PROMPT,
    K.LABEL_ASSISTANT_REPLY: TaskCategory.LABEL_REPLY,
    K.LABEL_PROMPTER_REPLY: TaskCategory.LABEL_REPLY,
}

KINDS_OF_CATEGORY: Mapping[TaskCategory, tuple[TaskKind, ...]] = {
    category: tuple(kind for kind, of in CATEGORY_OF.items() if of is category)
    for category in TaskCategory
}

# Each category as a number, in ``TaskCategory``'s order (the ready-work index stores it).
CATEGORY_NUMBER: Mapping[TaskCategory, int] = {
    category: number for number, category in enumerate(TaskCategory)
}

# Every kind as the v1 protocol spells it (OpenAPI names this enum TaskRequestType, as OA).
TASK_REQUEST_TYPES = tuple(kind.value for kind in TaskKind)

# Kinds grouped by what answers them.
LABEL_KINDS = frozenset(
    {TaskKind.LABEL_INITIAL_PROMPT, TaskKind.LABEL_ASSISTANT_REPLY, TaskKind.LABEL_PROMPTER_REPLY}
)
RANK_KINDS = frozenset({TaskKind.RANK_ASSISTANT_REPLIES, TaskKind.RANK_PROMPTER_REPLIES})
REPLY_KINDS = frozenset({TaskKind.ASSISTANT_REPLY, TaskKind.PROMPTER_REPLY})
