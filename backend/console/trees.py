"""One tree for the console's tree view: its messages as nested nodes, and its journal.

Two bounded queries. Siblings are ordered by rank (unranked last), then age, as the export
orders them; a node's ``review`` is what its colour says (pending, accepted, rejected,
deleted).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from backend.console.selectors import journal_row
from backend.trees.models import JournalEntry, Message, MessageTree

MAX_TREE_MESSAGES = 1000
MAX_TREE_JOURNAL = 200
_REVIEW = {True: "accepted", False: "rejected", None: "pending"}


@dataclass
class Node:
    id: uuid.UUID
    role: str
    text: str
    review: str
    review_count: int
    rank: int | None
    ranking_count: int
    synthetic: bool
    children: list[Node] = field(default_factory=list)


@dataclass(frozen=True)
class TreeDetail:
    tree: MessageTree
    roots: list[Node]
    message_count: int
    truncated: bool
    journal: list[dict]


def tree_detail(tree_id: uuid.UUID) -> TreeDetail | None:
    tree = MessageTree.objects.filter(id=tree_id).first()
    if tree is None:
        return None
    rows = list(
        Message.objects.filter(message_tree_id=tree_id)
        .order_by("created_at", "id")
        .values(
            "id",
            "parent_id",
            "role",
            "text",
            "review_result",
            "review_count",
            "rank",
            "ranking_count",
            "deleted",
            "synthetic",
            "created_at",
        )[: MAX_TREE_MESSAGES + 1]
    )
    truncated = len(rows) > MAX_TREE_MESSAGES
    rows = rows[:MAX_TREE_MESSAGES]
    journal = JournalEntry.objects.filter(message_tree_id=tree_id).order_by("-id")
    return TreeDetail(
        tree=tree,
        roots=nest(rows),
        message_count=len(rows),
        truncated=truncated,
        journal=[
            {**journal_row(entry), "details": json.dumps(entry.payload, sort_keys=True)}
            for entry in journal[:MAX_TREE_JOURNAL]
        ],
    )


def nest(rows: list[dict]) -> list[Node]:
    """Rows (with ``parent_id``) as nodes under their parents; a row whose parent is not in
    ``rows`` (beyond the bound) is a root of its own."""
    nodes = {
        row["id"]: Node(
            id=row["id"],
            role=row["role"],
            text=row["text"],
            review="deleted" if row["deleted"] else _REVIEW[row["review_result"]],
            review_count=row["review_count"],
            rank=row["rank"],
            ranking_count=row["ranking_count"],
            synthetic=row["synthetic"],
        )
        for row in rows
    }
    children: dict[uuid.UUID | None, list[dict]] = defaultdict(list)
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in nodes else None
        children[parent].append(row)
    for parent_id, kids in children.items():
        kids.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["created_at"], str(r["id"])))
        if parent_id is not None:
            nodes[parent_id].children = [nodes[kid["id"]] for kid in kids]
    return [nodes[row["id"]] for row in children[None]]
