"""Export message trees in Open-Assistant's format: one JSON object per line, one tree each.

A line is OA's ``ExportMessageTree`` (``message_tree_id``, ``tree_state``, ``prompt``,
``origin``); the prompt is an ``ExportMessageNode`` with its ``replies`` nested, siblings
ordered by rank (unranked last). As OA does, keys whose value is null are left out, and
``review_result`` is only given when it is true or the message had more than two reviews.
``labels`` are OA's ``LabelAvgValue`` per label: the mean over every label row of the message
(reviews and reports) and how many rows gave that label. With ``include_events`` a message
also carries OA's ``events`` (emoji reactions, rankings, ratings; see ``export_events``).

Memory stays bounded: trees are read with a server-side cursor and their messages and labels
are loaded ``chunk_size`` trees at a time.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.utils.crypto import salted_hmac

from backend.trees.export_events import Events, load_events
from backend.trees.models import Message, MessageTree, TextLabels

SYNTHETIC_CHOICES = ("include", "exclude", "only")
DEFAULT_CHUNK_SIZE = 100
_NODE_FIELDS = (
    "id",
    "parent_id",
    "user_id",
    "created_at",
    "text",
    "role",
    "lang",
    "review_count",
    "review_result",
    "deleted",
    "rank",
    "synthetic",
    "model_name",
    "emojis",
)


@dataclass(frozen=True)
class ExportFilter:
    """Which trees and messages to export.

    ``states``: tree states to export, empty for every state (OA's default is
    ``ready_for_export``). ``created_from`` <= tree creation < ``created_to``.
    ``include_deleted``: without it a deleted message is left out with all its replies (a tree
    whose prompt is deleted is left out). ``synthetic``: ``include``; ``exclude`` leaves out
    synthetic messages with their replies; ``only`` exports only trees holding a synthetic
    message. ``anonymize`` replaces user ids by pseudonyms (``pseudonymize_user_id``).
    ``tree_ids``: only these trees (all when empty). ``include_events`` adds each message's
    OA ``events`` (emoji reactions, rankings, ratings); their user ids are pseudonymised too
    when ``anonymize`` is set.
    """

    states: tuple[str, ...] = ("ready_for_export",)
    lang: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    include_deleted: bool = False
    synthetic: str = "include"
    anonymize: bool = False
    tree_ids: tuple[str, ...] = ()
    include_events: bool = False

    def __post_init__(self) -> None:
        if self.synthetic not in SYNTHETIC_CHOICES:
            raise ValueError(f"synthetic must be one of {', '.join(SYNTHETIC_CHOICES)}")


def open_export(path: Path | str, mode: str = "rt") -> TextIO:
    """An export file, gzip-compressed when its name ends in ``.gz`` (as OA's)."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def pseudonymize_user_id(user_id: uuid.UUID | str) -> str:
    """A stable pseudonym for a user id: HMAC-SHA256 keyed by ``GROVE_EXPORT_USER_SALT``
    (``SECRET_KEY`` when unset), shaped as a UUID so anonymized exports import like others.
    The same user gets the same pseudonym in every export made with the same salt."""
    secret = settings.GROVE_EXPORT_USER_SALT or settings.SECRET_KEY
    digest = salted_hmac(
        "grove.export.user_id", str(user_id), secret=secret, algorithm="sha256"
    ).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def export_trees(
    *, out: TextIO, filters: ExportFilter, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Write every tree matching ``filters`` to ``out``, one JSON line each; returns the count."""
    written = 0
    for line in iter_tree_lines(filters=filters, chunk_size=chunk_size):
        out.write(line + "\n")
        written += 1
    return written


def iter_tree_lines(
    *, filters: ExportFilter, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[str]:
    for chunk in _tree_chunks(filters, chunk_size):
        for tree in _export_chunk(chunk, filters):
            yield json.dumps(tree, ensure_ascii=False, sort_keys=False)


def _tree_chunks(filters: ExportFilter, chunk_size: int) -> Iterator[list[tuple]]:
    trees = MessageTree.objects.all()
    if filters.states:
        trees = trees.filter(state__in=filters.states)
    if filters.tree_ids:
        trees = trees.filter(id__in=filters.tree_ids)
    if filters.lang:
        trees = trees.filter(lang=filters.lang)
    if filters.created_from is not None:
        trees = trees.filter(created_at__gte=filters.created_from)
    if filters.created_to is not None:
        trees = trees.filter(created_at__lt=filters.created_to)
    rows = trees.order_by("created_at", "id").values_list("id", "state", "origin")
    chunk: list[tuple] = []
    for row in rows.iterator(chunk_size=chunk_size):
        chunk.append(row)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _export_chunk(chunk: list[tuple], filters: ExportFilter) -> Iterator[dict[str, Any]]:
    messages = Message.objects.filter(message_tree_id__in=[row[0] for row in chunk])
    if not filters.include_deleted:
        messages = messages.filter(deleted=False)
    by_tree: dict[uuid.UUID, list[dict]] = defaultdict(list)
    for row in messages.order_by("created_at", "id").values("message_tree_id", *_NODE_FIELDS):
        by_tree[row.pop("message_tree_id")].append(row)
    message_ids = [m["id"] for rows in by_tree.values() for m in rows]
    labels = _average_labels(message_ids)
    events = (
        load_events(message_ids, user_key=lambda user_id: _user_key(user_id, filters.anonymize))
        if filters.include_events
        else {}
    )
    for tree_id, state, origin in chunk:
        rows = by_tree.get(tree_id, [])
        if filters.synthetic == "only" and not any(m["synthetic"] for m in rows):
            continue
        if filters.synthetic == "exclude":
            rows = [m for m in rows if not m["synthetic"]]
        prompt = _build_prompt(rows, labels, events, filters.anonymize)
        if prompt is None:
            continue
        tree: dict[str, Any] = {
            "message_tree_id": str(tree_id),
            "tree_state": state,
            "prompt": prompt,
        }
        if origin:
            tree["origin"] = origin
        yield tree


def _build_prompt(
    rows: list[dict],
    labels: dict[uuid.UUID, dict],
    events: dict[uuid.UUID, Events],
    anonymize: bool,
) -> dict[str, Any] | None:
    """Nest the messages under the prompt; messages whose parent was left out drop out too."""
    children: dict[uuid.UUID | None, list[dict]] = defaultdict(list)
    for row in rows:
        children[row["parent_id"]].append(row)
    roots = children.get(None, [])
    if not roots:
        return None

    def node(row: dict) -> dict[str, Any]:
        replies = sorted(
            children.get(row["id"], []),
            key=lambda r: (r["rank"] is None, r["rank"] or 0, r["created_at"], str(r["id"])),
        )
        out = _node_fields(row, anonymize)
        out["replies"] = [node(reply) for reply in replies]
        if row["id"] in labels:
            out["labels"] = labels[row["id"]]
        if row["id"] in events:
            out["events"] = events[row["id"]]
        return out

    return node(roots[0])


def _user_key(user_id: uuid.UUID, anonymize: bool) -> str:
    return pseudonymize_user_id(user_id) if anonymize else str(user_id)


def _node_fields(row: dict, anonymize: bool) -> dict[str, Any]:
    user_id = _user_key(row["user_id"], anonymize)
    shown_review = row["review_result"] if row["review_result"] or row["review_count"] > 2 else None
    fields = {
        "message_id": str(row["id"]),
        "parent_id": str(row["parent_id"]) if row["parent_id"] else None,
        "user_id": user_id,
        "created_date": row["created_at"].isoformat(),
        "text": row["text"],
        "role": row["role"],
        "lang": row["lang"],
        "review_count": row["review_count"],
        "review_result": shown_review,
        "deleted": row["deleted"],
        "rank": row["rank"],
        "synthetic": row["synthetic"],
        "model_name": row["model_name"] or None,
        "emojis": row["emojis"],
    }
    return {key: value for key, value in fields.items() if value is not None}


def _average_labels(message_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, dict]]:
    """message id -> {label: {"value": mean, "count": rows with that label}}."""
    values: dict[uuid.UUID, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for message_id, row in TextLabels.objects.filter(message_id__in=message_ids).values_list(
        "message_id", "labels"
    ):
        for name, value in row.items():
            values[message_id][name].append(float(value))
    return {
        message_id: {
            name: {"value": _mean(found), "count": len(found)}
            for name, found in sorted(by_name.items())
        }
        for message_id, by_name in values.items()
    }


def _mean(values: list[float]) -> float:
    # Equal values average to themselves exactly, so an import of an export exports the same.
    if all(v == values[0] for v in values):
        return values[0]
    return math.fsum(values) / len(values)


def export_filter_from_dict(data: dict[str, Any]) -> ExportFilter:
    """An ``ExportFilter`` from plain values (a job's arguments): dates as ISO 8601 strings."""
    values = dict(data)
    for key in ("created_from", "created_to"):
        if isinstance(values.get(key), str):
            values[key] = parse_export_date(values[key])
    for key in ("states", "tree_ids"):
        if key in values:
            values[key] = tuple(values[key] or ())
    unknown = set(values) - set(ExportFilter.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown export filters: {', '.join(sorted(unknown))}")
    return ExportFilter(**values)


def parse_export_date(value: str) -> datetime:
    """An ISO 8601 date or date-time; without a time zone it is UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def export_to_path(*, path: Path, filters: ExportFilter) -> int:
    """Export to ``path`` (gzip when it ends in ``.gz``); the file appears only when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".partial-{path.name}")  # keeps the .gz suffix
    with open_export(partial, "wt") as out:
        count = export_trees(out=out, filters=filters)
    os.replace(partial, path)
    return count
