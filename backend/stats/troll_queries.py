"""What counts against a user on the troll board (OA ``query_message_emoji_counts_per_user``,
``query_spam_prompts_per_user``, ``query_labels_per_user``)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from django.db.models import (
    Avg,
    Count,
    DecimalField,
    F,
    FloatField,
    Func,
    IntegerField,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from backend.stats.scoring import TROLL_FLAG_LABELS, TROLL_MEAN_LABELS
from backend.trees.models import Message, MessageTree, TextLabels


class JsonKeyText(Func):
    """``column ->> key`` always reading ``key`` as an object key: Django's key transforms
    read keys like ``+1`` / ``-1`` (OA's thumbs up and down) as array indexes."""

    output_field = TextField()

    def __init__(self, key: str, column: str):
        self.key = key
        super().__init__(F(column))

    def as_sql(self, compiler, connection, **extra):  # SQLite (embedded profile)
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_extract({sql}, %s)", [*params, f'$."{self.key}"']

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ->> %s::text)", [*params, self.key]


def _as_int(key: str, column: str):
    """A JSON number rounded to an integer, 0 when missing. Through numeric, PostgreSQL rounds
    halves away from zero, as OA's cast of the JSON value did."""
    number = Cast(JsonKeyText(key, column), DecimalField(max_digits=20, decimal_places=6))
    return Coalesce(Cast(number, IntegerField()), Value(0))


def _mean(key: str, column: str):
    return Avg(Cast(JsonKeyText(key, column), FloatField()))


def troll_counts(start: datetime | None) -> dict[uuid.UUID, dict]:
    """Per author of messages created since ``start``: received emojis, aborted prompts and
    the labels others gave to the author's messages."""
    counts: dict[uuid.UUID, dict] = defaultdict(dict)
    messages = Message.objects.filter(deleted=False)
    if start is not None:
        messages = messages.filter(created_at__gte=start)

    emojis = messages.values("user_id").annotate(
        upvotes=Sum(_as_int("+1", "emojis")),
        downvotes=Sum(_as_int("-1", "emojis")),
        red_flags=Sum(_as_int("red_flag", "emojis")),
    )
    for row in emojis:
        counts[row.pop("user_id")].update(row)

    aborted = MessageTree.objects.filter(state="aborted_low_grade").values("id")
    spam = messages.filter(parent__isnull=True, message_tree_id__in=aborted).values("user_id")
    for row in spam.annotate(n=Count("id")):
        counts[row["user_id"]]["spam_prompts"] = row["n"]

    labels = TextLabels.objects.filter(message__deleted=False)
    if start is not None:
        labels = labels.filter(message__created_at__gte=start)
    aggregates = {name: Sum(_as_int(name, "labels")) for name in TROLL_FLAG_LABELS}
    aggregates.update({name: _mean(name, "labels") for name in TROLL_MEAN_LABELS})
    per_author = labels.values(author=F("message__user_id")).annotate(**aggregates)
    for row in per_author:
        counts[row.pop("author")].update(row)
    return counts
