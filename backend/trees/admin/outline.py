"""Read-only HTML views of a tree for its admin page: the message outline and the journal.

Each is one query; the outline orders messages depth-first, siblings by rank (unranked last)
then age, as the export does."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from backend.trees.models import JournalEntry, Message

MAX_OUTLINE_MESSAGES = 1000
MAX_JOURNAL_ENTRIES = 100
EXCERPT_CHARS = 120
_REVIEW = {True: "accepted", False: "rejected", None: "pending"}
_OUTLINE_FIELDS = ("id", "parent_id", "depth", "role", "review_result", "rank", "deleted", "text")


def _depth_first(rows: list[dict]) -> list[dict]:
    children: dict[uuid.UUID | None, list[dict]] = defaultdict(list)
    for row in rows:
        children[row["parent_id"]].append(row)
    known = {row["id"] for row in rows}
    # Roots: the prompt, and any message whose parent fell outside the bound.
    stack = [row for row in rows if row["parent_id"] is None or row["parent_id"] not in known]
    stack.reverse()
    ordered = []
    while stack:
        row = stack.pop()
        ordered.append(row)
        kids = sorted(
            children.get(row["id"], []),
            key=lambda r: (r["rank"] is None, r["rank"] or 0, r["created_at"], str(r["id"])),
        )
        stack.extend(reversed(kids))
    return ordered


def tree_outline(tree_id: uuid.UUID) -> SafeString:
    rows = list(
        Message.objects.filter(message_tree_id=tree_id)
        .order_by("created_at", "id")
        .values(*_OUTLINE_FIELDS, "created_at")[: MAX_OUTLINE_MESSAGES + 1]
    )
    if not rows:
        return format_html("<p>{}</p>", "No messages.")
    note = ""
    if len(rows) > MAX_OUTLINE_MESSAGES:
        rows = rows[:MAX_OUTLINE_MESSAGES]
        note = f"Only the first {MAX_OUTLINE_MESSAGES} messages are shown."
    body = format_html_join(
        "\n",
        '<tr style="{}"><td>{}</td><td style="padding-left:{}em">{}<a href="{}">{}</a></td>'
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                "text-decoration:line-through;opacity:.6" if row["deleted"] else "",
                row["depth"],
                f"{row['depth'] * 1.5:g}",
                "└ " if row["depth"] else "",
                reverse("admin:trees_message_change", args=[row["id"]]),
                row["role"],
                _REVIEW[row["review_result"]],
                "" if row["rank"] is None else row["rank"],
                "deleted" if row["deleted"] else "",
                Truncator(row["text"]).chars(EXCERPT_CHARS),
            )
            for row in _depth_first(rows)
        ),
    )
    return format_html(
        '<table class="grove-outline"><thead><tr><th>depth</th><th>role</th><th>review</th>'
        "<th>rank</th><th>deleted</th><th>text</th></tr></thead><tbody>{}</tbody></table>{}",
        body,
        format_html("<p>{}</p>", note) if note else "",
    )


def tree_journal(tree_id: uuid.UUID) -> SafeString:
    entries = list(
        JournalEntry.objects.filter(message_tree_id=tree_id)
        .order_by("-id")
        .values("id", "created_at", "event_type", "actor", "message_id", "payload")[
            :MAX_JOURNAL_ENTRIES
        ]
    )
    if not entries:
        return format_html("<p>{}</p>", "No journal entries.")
    body = format_html_join(
        "\n",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
        (
            (
                entry["created_at"].isoformat(timespec="seconds"),
                entry["event_type"],
                entry["actor"] or "-",
                entry["message_id"] or "",
                json.dumps(entry["payload"], sort_keys=True),
            )
            for entry in entries
        ),
    )
    return format_html(
        '<table class="grove-journal"><thead><tr><th>when</th><th>event</th><th>actor</th>'
        "<th>message</th><th>payload</th></tr></thead><tbody>{}</tbody></table>"
        "<p>Newest first, at most {} entries.</p>",
        body,
        MAX_JOURNAL_ENTRIES,
    )
