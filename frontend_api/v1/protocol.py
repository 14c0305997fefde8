"""The v1 wire shapes of tasks and conversation messages (OA ``protocol.py``).

Domain tasks store what Grove needs (kind, target ids, label spec); this module renders
them as the JSON Open-Assistant's clients expect, field for field.
"""

from __future__ import annotations

import uuid

from backend.accounts.models import User
from backend.trees import selectors
from backend.trees.core.config import LABEL_WIDGETS
from backend.trees.core.policy import TaskKind
from backend.trees.models import Message, Task

# OA TextLabel display texts, shown by frontends next to each label widget.
LABEL_DISPLAY_TEXT = {
    "spam": ("Seems to be intentionally low-quality or irrelevant", None),
    "fails_task": ("Fails to follow the correct instruction / task", None),
    "lang_mismatch": (
        "Wrong Language",
        "The message is written in a language that differs from the currently selected language.",
    ),
    "pii": ("Contains personal identifiable information (PII)", None),
    "not_appropriate": ("Inappropriate", None),
    "hate_speech": (
        "Content is abusive or threatening and expresses prejudice against a protected "
        "characteristic",
        "Prejudice refers to preconceived views not based on reason. Protected "
        "characteristics include gender, ethnicity, religion, sexual orientation, and similar "
        "characteristics.",
    ),
    "sexual_content": ("Contains sexual content", None),
    "moral_judgement": ("Expresses moral judgement", None),
    "political_content": ("Expresses political views", None),
    "quality": ("Overall subjective quality rating of the message", None),
    "toxicity": ("Rude, abusive, profane or insulting content", None),
    "humor": ("Humorous content including sarcasm", None),
    "helpfulness": ("Helpfulness of the message", None),
    "creativity": ("Creativity", None),
    "violence": ("Violence/abuse/terrorism/self-harm", None),
}


def label_description(name: str) -> dict:
    display, help_text = LABEL_DISPLAY_TEXT.get(name, (name, None))
    return {
        "name": name,
        "widget": LABEL_WIDGETS[name].value,
        "display_text": display,
        "help_text": help_text,
    }


def conversation_message(
    message: Message | selectors.PathMessage,
    *,
    viewer: User | None,
    user_emojis: dict | None = None,
) -> dict:
    """OA ``ConversationMessage``."""
    return {
        "id": str(message.id),
        "user_id": str(message.user_id) if message.user_id else None,
        "frontend_message_id": message.frontend_message_id,
        "text": message.text,
        "lang": message.lang,
        "is_assistant": message.role == "assistant",
        "emojis": {k: v for k, v in (message.emojis or {}).items() if not k.startswith("_")},
        "user_emojis": (user_emojis or {}).get(message.id, []),
        "user_is_author": viewer is not None and message.user_id == viewer.id,
        "synthetic": message.synthetic,
    }


def conversation(
    path: list[Message] | list[selectors.PathMessage],
    *,
    viewer: User | None,
    emojis: dict | None = None,
) -> dict:
    """OA ``Conversation``; ``emojis`` (the viewer's, by message) is read when not given."""
    if emojis is None:
        emojis = selectors.user_emojis(viewer.id, [m.id for m in path]) if viewer else {}
    return {"messages": [conversation_message(m, viewer=viewer, user_emojis=emojis) for m in path]}


def _task_conversation(
    task: Task, message_id: str, viewer: User | None, also: list[uuid.UUID] | None = None
) -> tuple[list[selectors.PathMessage], dict, dict[uuid.UUID, selectors.PathMessage]]:
    """The path to a task's message, its wire conversation and the ``also`` messages by id:
    as the claim read them for this viewer (``claimed_conversation``), else in one query."""
    viewer_id = viewer.id if viewer else None
    claimed = getattr(task, "claimed_conversation", None)
    if claimed is not None and claimed[0] == viewer_id:
        path, emojis, others = claimed[1]
    else:
        path, emojis, others = selectors.conversation_with_emojis(
            uuid.UUID(message_id), viewer_id=viewer_id, also=also or ()
        )
    return path, conversation(path, viewer=viewer, emojis=emojis), others


def render_task(task: Task, *, viewer: User | None) -> dict:
    """The task as OA's ``AnyTask`` JSON."""
    kind = TaskKind(task.payload_type)
    payload = task.payload
    base = {"id": str(task.id), "type": kind.value}
    if kind is TaskKind.INITIAL_PROMPT:
        return {**base, "hint": None}
    if kind in (TaskKind.ASSISTANT_REPLY, TaskKind.PROMPTER_REPLY):
        _path, wire, _ = _task_conversation(task, payload["parent_id"], viewer)
        body = {**base, "conversation": wire}
        if kind is TaskKind.PROMPTER_REPLY:
            body["hint"] = None
        return body
    if kind.value.startswith("label_"):
        path, wire, _ = _task_conversation(task, payload["message_id"], viewer)
        body = {
            **base,
            "message_id": payload["message_id"],
            "valid_labels": payload["valid_labels"],
            "mandatory_labels": payload["mandatory_labels"],
            "mode": payload["mode"],
            "disposition": payload["disposition"],
            "labels": [label_description(name) for name in payload["valid_labels"]],
            "conversation": wire,
        }
        labelled_text = path[-1].text if path else None
        if kind is TaskKind.LABEL_INITIAL_PROMPT:
            body["prompt"] = labelled_text
        else:
            body["reply"] = labelled_text
        return body
    # rank_assistant_replies / rank_prompter_replies
    parent_id = uuid.UUID(payload["parent_id"])
    reply_ids = [uuid.UUID(i) for i in payload["reply_ids"]]
    _path, wire, replies = _task_conversation(task, payload["parent_id"], viewer, also=reply_ids)
    ordered = [replies[i] for i in reply_ids if i in replies]
    reply_messages = [conversation_message(m, viewer=viewer) for m in ordered]
    # OA next_task: which replies are synthetic is shown only when all of them are; with a
    # human reply among them, every reply's ``synthetic`` is withheld (null).
    reveal_synthetic = all(m.synthetic for m in ordered)
    if not reveal_synthetic:
        for reply in reply_messages:
            reply["synthetic"] = None
    return {
        **base,
        "conversation": wire,
        "replies": [m.text for m in ordered],
        "reply_messages": reply_messages,
        "message_tree_id": str(task.message_tree_id),
        "ranking_parent_id": str(parent_id),
        "reveal_synthetic": reveal_synthetic,
    }


def task_done(task_id: uuid.UUID | None = None) -> dict:
    """OA ``TaskDone``."""
    return {"type": "task_done", "id": str(task_id or uuid.uuid4())}


def frontend_user_json(user: User) -> dict:
    """OA ``FrontEndUser``: the user as its own API client knows it."""
    return {
        "id": user.username,
        "display_name": user.display_name,
        "auth_method": user.auth_method,
        "user_id": str(user.id),
        "enabled": user.enabled,
        "deleted": user.deleted,
        "notes": user.notes,
        "created_date": _iso(user.created_at),
        "show_on_leaderboard": user.show_on_leaderboard,
        "streak_days": user.streak_days,
        "streak_last_day_date": _iso(user.streak_last_day_date),
        "last_activity_date": _iso(user.last_activity_date),
        "tos_acceptance_date": _iso(user.tos_acceptance_date),
    }


def message_json(
    message: Message,
    *,
    viewer: User | None,
    user_emojis: dict | None = None,
    author: User | None = None,
) -> dict:
    """OA ``Message``: a ``ConversationMessage`` with its tree, review and ranking fields.

    ``author`` fills OA's ``user`` (a ``FrontEndUser``); callers pass it only when the
    author belongs to the calling API client (or the caller is trusted), else it is None.
    """
    return {
        **conversation_message(message, viewer=viewer, user_emojis=user_emojis),
        "parent_id": str(message.parent_id) if message.parent_id else None,
        "created_date": _iso(message.created_at),
        "review_result": message.review_result,
        "review_count": message.review_count,
        "deleted": message.deleted,
        "edited": message.edited,
        "model_name": message.model_name or None,
        "message_tree_id": str(message.message_tree_id),
        "ranking_count": message.ranking_count,
        "rank": message.rank,
        "user": frontend_user_json(author) if author is not None else None,
    }


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
