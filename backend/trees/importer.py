"""Import message trees from Open-Assistant's export format (see ``backend.trees.export``).

The whole file is checked before anything is written: a bad line stops the import with its
line number and nothing is written. Then each tree is written in its own transaction. A tree
whose id already exists is skipped (importing the same file twice changes nothing); a
message id that exists in another tree is refused.

Imported messages keep their ids, users and dates. Users unknown to this database are created
(``auth_method`` "system") under the import API client, as is one user owning the imported
label rows: an export holds label means, so each label mean is written back as ``count`` rows
of that value, which export to the same mean and count. A message's OA ``events`` (emoji
reactions, rankings, ratings) are read back too, see ``backend.trees.import_events``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.trees import import_users, journal
from backend.trees.core.lifecycle import TreeState, is_active
from backend.trees.errors import TreeEngineError
from backend.trees.export import open_export
from backend.trees.growth_config import active_config
from backend.trees.import_events import (
    ImportedEvents,
    check_rankings,
    counted_emojis,
    event_rows,
    newest_reply_dates,
    parse_events,
)
from backend.trees.models import (
    TREE_STATE_CHOICES,
    Message,
    MessageEmoji,
    MessageReaction,
    MessageTree,
    TextLabels,
)

TREE_STATES = frozenset(value for value, _ in TREE_STATE_CHOICES)


class TreeImportError(TreeEngineError):
    code = "invalid_import"


@dataclass
class ImportedNode:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    depth: int
    fields: dict[str, Any]
    labels: dict[str, tuple[float, int]]
    events: ImportedEvents = field(default_factory=ImportedEvents)


@dataclass
class ImportedTree:
    line: int
    id: uuid.UUID
    state: str
    origin: str
    nodes: list[ImportedNode]


@dataclass
class ImportReport:
    imported: list[uuid.UUID] = field(default_factory=list)
    skipped: list[uuid.UUID] = field(default_factory=list)


def import_trees(*, path: Path | str, api_client: ApiClient | None = None) -> ImportReport:
    """Import every tree of the export file at ``path`` (checked whole first)."""
    with open_export(path) as stream:
        for _tree in read_trees(stream):
            pass  # raises TreeImportError on the first bad line, before any write
    client = api_client or import_users.import_client()
    report = ImportReport()
    with open_export(path) as stream:
        for tree in read_trees(stream):
            if _import_tree(tree, client):
                report.imported.append(tree.id)
            else:
                report.skipped.append(tree.id)
    return report


def read_trees(stream: TextIO) -> Iterator[ImportedTree]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TreeImportError(f"line {number}: not valid JSON ({exc.msg})") from exc
        try:
            yield _parse_tree(data, number)
        except (KeyError, TypeError, ValueError) as exc:
            raise TreeImportError(f"line {number}: {_describe(exc)}") from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


def _parse_tree(data: Any, number: int) -> ImportedTree:
    if not isinstance(data, dict):
        raise TypeError("a line must be a JSON object (an ExportMessageTree)")
    tree_id = uuid.UUID(str(data["message_tree_id"]))
    state = data.get("tree_state") or "ready_for_export"
    if state not in TREE_STATES:
        raise ValueError(f"unknown tree_state {state!r}")
    prompt = data["prompt"]
    if not isinstance(prompt, dict):
        raise TypeError("prompt must be an object (an ExportMessageNode)")
    nodes: list[ImportedNode] = []
    _parse_node(prompt, None, 0, nodes)
    if nodes[0].id != tree_id:
        raise ValueError("the prompt's message_id must equal message_tree_id")
    if nodes[0].fields["role"] != "prompter":
        raise ValueError("the prompt's role must be 'prompter'")
    ids = [n.id for n in nodes]
    if len(set(ids)) != len(ids):
        raise ValueError("a message_id appears twice in the tree")
    ranked = check_rankings(
        {n.id: n.parent_id for n in nodes}, {n.id: n.events for n in nodes}, tree_id
    )
    for node in nodes:
        node.fields["ranking_count"] = ranked.get(node.id, 0)
    return ImportedTree(number, tree_id, state, str(data.get("origin") or ""), nodes)


def _parse_node(
    data: dict, parent_id: uuid.UUID | None, depth: int, nodes: list[ImportedNode]
) -> None:
    message_id = uuid.UUID(str(data["message_id"]))
    where = f"message {message_id}"
    declared = data.get("parent_id")
    if (str(declared) if declared else None) != (str(parent_id) if parent_id else None):
        raise ValueError(f"{where}: parent_id does not match the message it is nested in")
    text, role = data["text"], data["role"]
    if not isinstance(text, str) or not text:
        raise ValueError(f"{where}: text must be a non-empty string")
    if role not in ("prompter", "assistant"):
        raise ValueError(f"{where}: role must be 'prompter' or 'assistant'")
    emojis = data.get("emojis") or {}
    if not isinstance(emojis, dict) or not all(
        isinstance(k, str) and _is_count(v) for k, v in emojis.items()
    ):
        raise ValueError(f"{where}: emojis must map names to counts")
    fields = {
        "user_id": uuid.UUID(str(data["user_id"])) if data.get("user_id") else None,
        "created_at": _parse_date(data.get("created_date"), where),
        "text": text,
        "role": role,
        "lang": _string(data.get("lang") or "en", where, "lang"),
        "review_count": _count(data.get("review_count", 0), where, "review_count"),
        "review_result": _optional_bool(data.get("review_result"), where, "review_result"),
        "deleted": bool(_optional_bool(data.get("deleted"), where, "deleted")),
        "rank": _count(data["rank"], where, "rank") if data.get("rank") is not None else None,
        "synthetic": bool(_optional_bool(data.get("synthetic"), where, "synthetic")),
        "model_name": _string(data.get("model_name") or "", where, "model_name"),
        "emojis": emojis,
    }
    labels = _parse_labels(data.get("labels") or {}, where)
    events = parse_events(data.get("events"), message_id, where)
    fields["emojis"] = counted_emojis(emojis, events)
    nodes.append(ImportedNode(message_id, parent_id, depth, fields, labels, events))
    replies = data.get("replies") or []
    if not isinstance(replies, list):
        raise TypeError(f"{where}: replies must be a list")
    for reply in replies:
        if not isinstance(reply, dict):
            raise TypeError(f"{where}: each reply must be an object")
        _parse_node(reply, message_id, depth + 1, nodes)


def _parse_labels(data: Any, where: str) -> dict[str, tuple[float, int]]:
    if not isinstance(data, dict):
        raise TypeError(f"{where}: labels must map label names to {{value, count}}")
    labels = {}
    for name, avg in data.items():
        value, count = (avg or {}).get("value"), (avg or {}).get("count")
        if value is None:
            continue  # OA's LabelAvgValue allows a null mean: nothing to write back
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: label {name!r} value must be a number")
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{where}: label {name!r} value must be between 0 and 1")
        if not _is_count(count) or count < 1:
            raise ValueError(f"{where}: label {name!r} count must be a positive integer")
        labels[name] = (float(value), count)
    return labels


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _count(value: Any, where: str, name: str) -> int:
    if not _is_count(value):
        raise ValueError(f"{where}: {name} must be a non-negative integer")
    return value


def _optional_bool(value: Any, where: str, name: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{where}: {name} must be true, false or absent")
    return value


def _string(value: Any, where: str, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: {name} must be a string")
    return value


def _parse_date(value: Any, where: str) -> datetime:
    if value is None:
        return timezone.now()
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{where}: created_date {value!r} is not an ISO 8601 date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@transaction.atomic
def _import_tree(tree: ImportedTree, client: ApiClient) -> bool:
    """Write one tree; False when a tree with its id already exists."""
    if MessageTree.objects.filter(id=tree.id).exists():
        return False
    ids = [n.id for n in tree.nodes]
    clash = Message.objects.filter(id__in=ids).values_list("id", flat=True).first()
    if clash is not None:
        raise TreeImportError(f"line {tree.line}: message {clash} already exists in another tree")
    config = active_config()
    prompt = tree.nodes[0]
    replies_of: dict[uuid.UUID, int] = {}
    for node in tree.nodes[1:]:
        live = not node.fields["deleted"] and node.fields["review_result"] is not False
        replies_of[node.parent_id] = replies_of.get(node.parent_id, 0) + int(live)
    row = MessageTree.objects.create(
        id=tree.id,
        state=tree.state,
        goal_tree_size=max(config.goal_tree_size, len(tree.nodes)),
        max_depth=max(config.max_tree_depth, max(n.depth for n in tree.nodes)),
        max_children_count=max(config.max_children_count, *replies_of.values(), 1),
        lang=prompt.fields["lang"],
        origin=tree.origin,
        active=is_active(TreeState(tree.state)),
        created_at=prompt.fields["created_at"],
    )
    user_ids = {n.fields["user_id"] for n in tree.nodes}
    users = import_users.resolve_users(
        user_ids.union(*(n.events.user_ids() for n in tree.nodes)), client
    )
    labels_user = import_users.labels_user(client)
    label_rows, emoji_rows, reaction_rows = [], [], []
    newest_reply = newest_reply_dates((n.parent_id, n.fields["created_at"]) for n in tree.nodes)
    for node in tree.nodes:
        user = users[node.fields["user_id"]]
        Message.objects.create(
            id=node.id,
            message_tree=row,
            parent_id=node.parent_id,
            depth=node.depth,
            children_count=replies_of.get(node.id, 0),
            user=user,
            api_client_id=user.api_client_id,
            frontend_message_id=f"import:{node.id}",
            **{k: v for k, v in node.fields.items() if k != "user_id"},
        )
        label_rows.extend(_label_rows(node, labels_user))
        emojis, reactions = event_rows(
            message_id=node.id,
            events=node.events,
            users=users,
            emoji_after=node.fields["created_at"],
            ranking_after=newest_reply.get(node.id, node.fields["created_at"]),
        )
        emoji_rows.extend(emojis)
        reaction_rows.extend(reactions)
    TextLabels.objects.bulk_create(label_rows)
    MessageEmoji.objects.bulk_create(emoji_rows)
    MessageReaction.objects.bulk_create(reaction_rows)
    journal.record(
        "tree_imported",
        payload={"state": tree.state, "messages": len(tree.nodes)},
        message_tree_id=tree.id,
        api_client_id=client.id,
    )
    return True


def _label_rows(node: ImportedNode, user: User) -> list[TextLabels]:
    """``count`` rows per label mean; row i carries every label whose count exceeds i."""
    most = max((count for _, count in node.labels.values()), default=0)
    return [
        TextLabels(
            message_id=node.id,
            user=user,
            api_client_id=user.api_client_id,
            labels={name: value for name, (value, count) in node.labels.items() if count > i},
            created_at=node.fields["created_at"],
        )
        for i in range(most)
    ]
