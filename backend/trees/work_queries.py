"""The task request's queries on the ready-work index: read what a user may do, claim a slot.

``eligible`` reads the language's rows with a free slot, the per-user exclusions as
anti-joins, in one statement compiled once per process; ``as_candidates`` hands them to the
policy. The claim (``services.tasks._claim``) locks the chosen row with ``lock_work`` and
counts live leases (open tasks within their ``lease_until``) with ``live_counts`` on a fresh
snapshot. No lock is held while Python chooses.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Random, RowNumber

from backend.accounts.models import User
from backend.compiled_query import SENTINEL_IDS, SENTINEL_TIMES, CompiledQuery
from backend.trees.core.candidates import (
    ExtendibleParent,
    RankingCandidate,
    ReviewCandidate,
    TaskCandidates,
)
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.task_kinds import (
    CATEGORY_OF,
    KINDS_OF_CATEGORY,
    LABEL_KINDS,
    RANK_KINDS,
    REPLY_KINDS,
    Role,
    TaskKind,
)
from backend.trees.growth_config import active_pk_subquery
from backend.trees.models import Message, MessageReaction, ReactionType, ReadyWork, Task, TextLabels
from backend.trees.ready_work import refresh_lang

_REPLY = [k.value for k in REPLY_KINDS]
_LABEL = [k.value for k in LABEL_KINDS]
_RANK = [k.value for k in RANK_KINDS]


# --- reading work for one user -------------------------------------------------------------


def _open(now: datetime) -> Q:
    return Q(done=False, skipped=False, expiry_date__gt=now)


def _pending(now: datetime, since: datetime, user_id: uuid.UUID) -> Q:
    """The user's tasks that count towards ``max_pending_tasks_per_user``: open, and handed
    out within ``recent_tasks_span_sec`` (OA)."""
    return _open(now) & Q(user_id=user_id, created_at__gte=since)


def _leasing(now: datetime) -> Q:
    """Tasks holding their slot. A lease never outlives the task's validity, so no expiry
    test: the partial indexes task_lease_by_node / _by_tree answer it (with one, PostgreSQL
    scanned every open task per ready-work row)."""
    return Q(done=False, skipped=False, lease_until__gt=now)


def _leases(now: datetime, group: str, **match) -> Coalesce:
    """Live leases matching ``match`` (OuterRef-s into the ready-work row), one count per
    ``group`` value."""
    live = (
        Task.objects.filter(_leasing(now), **match)
        .order_by()
        .values(group)
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(live, output_field=IntegerField()), Value(0))


def eligible(
    *,
    lang: str,
    now: datetime,
    config: TreeManagerConfig,
    user_id: uuid.UUID | None,
    kind: TaskKind | None = None,
    sample: bool = False,
) -> list[WorkRow]:
    """The language's work with a free slot that ``user_id`` may do (one query).

    Per-user rules (``core.policy``: may_review / may_reply / may_rank), as anti-joins: never
    one's own message; never a message already reviewed, a parent already answered or ranked,
    or a ranking among one's own replies; never a node the user skipped, was handed within
    ``recent_tasks_span_sec``, or still holds a task's lease on, for the same kind. No cap
    before these exclusions.
    Rows carry ``pending`` (the user's open tasks within ``recent_tasks_span_sec``).

    ``kind`` keeps that kind's rows only (and the initial-prompt row). ``sample`` reads at
    most ``SAMPLE_PER_CATEGORY`` rows of each task category, drawn uniformly at random
    *before* the lease counts and the exclusions, so the statement's cost does not grow with
    the forest (at OA's scale: 1,166 rows in English, 18 ms when each was checked). Every
    eligible row is as likely to be in the sample as any other of its category, and the
    policy draws a target uniformly within a category, so every draw stays as likely as over
    all rows. A category the policy would see as empty only because its sample was all
    excluded (it has more rows than the sample) is read in full: the sample never hides work.
    """
    since = now - timedelta(seconds=config.recent_tasks_span_sec)
    values = {
        "lang": lang,
        "now": now,
        "since": since,
        "user_id": user_id,
        "kind": kind.value if kind is not None else None,
    }
    sql, params = _ELIGIBLE.statement(values, sample=sample)
    rows = _work_rows(sql, params)
    if sample and rows and _hidden_categories(rows):
        sql, params = _ELIGIBLE.statement(values, sample=False)
        rows = _work_rows(sql, params)
    if any(row.node_id is None for row in rows):
        return rows
    # The first request in a language creates its initial-prompt row, then reads again.
    refresh_lang(lang, config)
    return _work_rows(sql, params)


@dataclasses.dataclass(slots=True)
class WorkRow:
    """A ready-work row as ``eligible`` reads it, with the user's ``pending`` count (None
    without a user). Plain values: a request reads dozens of rows and uses one."""

    id: int
    lang: str
    kind: str
    tree_id: uuid.UUID | None
    node_id: uuid.UUID | None
    slots: int
    tree_room: int | None
    author_id: uuid.UUID | None
    child_count: int
    child_ids: list[str]
    weight: float = 1.0  # the active selection policy's (``core.shape.WorkItem.weight``)
    pending: int | None = None
    config_pk: int | None = None  # the active configuration version's pk
    leased: int | None = None  # live leases on the row's node for its kind
    # Of a sampled read: the categories with more rows than the sample (before exclusions).
    sampled_out: frozenset[str] = frozenset()


def _hidden_categories(rows: list[WorkRow]) -> set[str]:
    """Categories of a sampled read that have rows beyond the sample but none in it after the
    exclusions: whether the user may do any of them is unknown."""
    present = {CATEGORY_OF[TaskKind(row.kind)].value for row in rows}
    return set(rows[0].sampled_out) - present


_WORK_FIELDS = tuple(field.name for field in dataclasses.fields(WorkRow))
_UUID_FIELDS = ("tree_id", "node_id", "author_id")


def _work_rows(sql: str, params: list) -> list[WorkRow]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        found = cursor.fetchall()
    wanted = [(name, names.index(name)) for name in _WORK_FIELDS if name in names]
    more = [(name.removeprefix(_MORE), i) for i, name in enumerate(names) if name.startswith(_MORE)]
    rows = []
    for values in found:
        row = WorkRow(**{name: values[i] for name, i in wanted})
        row.sampled_out = frozenset(name for name, i in more if values[i] is not None)
        # SQLite hands back UUIDs as hex text and JSON as text; PostgreSQL decoded values.
        for name in _UUID_FIELDS:
            value = getattr(row, name)
            if isinstance(value, str):
                setattr(row, name, uuid.UUID(value))
        if isinstance(row.child_ids, str):
            row.child_ids = json.loads(row.child_ids)
        rows.append(row)
    return rows


def _eligible_query(
    *,
    lang: str,
    now: datetime,
    since: datetime,
    user_id: uuid.UUID | None,
    kind: str | None = None,
    sample: bool = False,
):
    """``eligible`` as an ORM query (compiled once per process: ``CompiledQuery``; building
    and compiling its seven subqueries cost about a third of a web process's CPU at 16
    clients)."""
    base = ReadyWork.objects.filter(Q(slots__gt=0) | Q(node__isnull=True), lang=lang)
    if kind is not None:
        base = base.filter(Q(kind=kind) | Q(node__isnull=True))
    rows = base.annotate(
        # Which configuration version is active, read on the same snapshot: the caller
        # checks it against the version it used (``request_task``).
        config_pk=Subquery(active_pk_subquery(), output_field=IntegerField())
    )
    if sample:  # see ``eligible``: a uniform sample of each category, then the checks
        drawn = (
            base.annotate(
                draw=Window(RowNumber(), partition_by=[_CATEGORY], order_by=Random().asc())
            )
            .filter(draw__lte=SAMPLE_PER_CATEGORY)
            .values("id")[
                # The sample holds at most this many rows anyway; saying so lets PostgreSQL see it
                # is small and join from it, so the lease counts and exclusions below run on the
                # sampled rows only. Without the bound it estimated every row of the language and
                # ran them on all (EXPLAIN at OA's scale: 1,165 lease probes for 126 sampled rows;
                # the read's execution p50 8.8 -> 6.1 ms, p25 7.6 -> 3.7 ms over 300 pairs).
                : SAMPLE_PER_CATEGORY * len(KINDS_OF_CATEGORY)
            ]
        )
        rows = rows.filter(id__in=drawn).annotate(
            **{
                # Not NULL when the category has more rows than the sample.
                f"{_MORE}{category.value}": Subquery(
                    base.filter(kind__in=[k.value for k in kinds])
                    .order_by()
                    .values("id")[SAMPLE_PER_CATEGORY : SAMPLE_PER_CATEGORY + 1],
                    output_field=IntegerField(),
                )
                for category, kinds in KINDS_OF_CATEGORY.items()
            }
        )
    rows = rows.annotate(
        leased=_leases(
            now,
            "parent_message_id",
            parent_message_id=OuterRef("node_id"),
            payload_type=OuterRef("kind"),
        ),
        tree_leased=_leases(
            now, "message_tree_id", message_tree_id=OuterRef("tree_id"), payload_type__in=_REPLY
        ),
    )
    rows = rows.filter(Q(node__isnull=True) | Q(slots__gt=F("leased"))).exclude(
        Q(kind__in=_REPLY) & Q(tree_room__lte=F("tree_leased"))
    )
    if user_id is not None:
        rows = _without_excluded(rows, now=now, since=since, user_id=user_id)
    return rows.order_by("id")


def _without_excluded(rows, *, now: datetime, since: datetime, user_id: uuid.UUID):
    """The per-user rules of ``eligible`` as anti-joins, and the user's pending count."""
    handled = Task.objects.filter(
        # handed out recently, skipped by the user, or still holding its slot (acked: until it
        # expires)
        Q(created_at__gte=since) | Q(skipped_by_user=True) | _leasing(now),
        user_id=user_id,
        parent_message_id=OuterRef("node_id"),
        payload_type=OuterRef("kind"),
    )
    reviewed = TextLabels.objects.filter(
        user_id=user_id, message_id=OuterRef("node_id"), task__isnull=False
    )
    ranked = MessageReaction.objects.filter(
        user_id=user_id, message_id=OuterRef("node_id"), payload_type=ReactionType.RANKING
    )
    wrote_child = Message.objects.filter(
        parent_id=OuterRef("node_id"), user_id=user_id, deleted=False
    ).exclude(review_result=False)
    pending = (
        Task.objects.filter(_pending(now, since, user_id))
        .order_by()
        .values("user_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = (
        rows.exclude(Q(kind__in=_LABEL + _REPLY) & Q(author_id=user_id))
        .exclude(Exists(handled))
        .exclude(Q(kind__in=_LABEL) & Exists(reviewed))
        .exclude(Q(kind__in=_RANK) & Exists(ranked))
        .exclude(Q(kind__in=_REPLY + _RANK) & Exists(wrote_child))
        .annotate(pending=Coalesce(Subquery(pending, output_field=IntegerField()), Value(0)))
    )
    return rows


# Rows of each task category one (random) request reads at most: see ``eligible``.
SAMPLE_PER_CATEGORY = 32
_MORE = "more_"  # prefix of a sampled read's "category has more rows" columns
# The task category of a ready-work row, as a number: the sample's window partitions by it
# (a text value made PostgreSQL sort 1,166 rows with collation-aware comparisons: 10 ms).
_CATEGORY = Case(
    *(
        When(kind__in=[kind.value for kind in kinds], then=Value(number))
        for number, (_category, kinds) in enumerate(KINDS_OF_CATEGORY.items())
    ),
    output_field=IntegerField(),
)
_ELIGIBLE = CompiledQuery(
    _eligible_query,
    sentinels={
        "lang": "grove-lang-sentinel",
        "kind": "grove-kind-sentinel",
        "now": SENTINEL_TIMES[0],
        "since": SENTINEL_TIMES[1],
        "user_id": SENTINEL_IDS[0],
    },
    # Without a user the per-user anti-joins, and so ``since``, are not in the query.
    vanish={"user_id": {"since"}},
)


def as_candidates(rows: Iterable[WorkRow]) -> TaskCandidates:
    """The policy's view of eligible rows (already filtered for the user: each has a free
    slot). A review's depth only says prompt (0) or reply (1)."""
    prompts, replies, parents, rankings, missing = [], [], [], [], 0
    for row in rows:
        kind = TaskKind(row.kind)
        if kind is TaskKind.INITIAL_PROMPT:
            missing = row.slots
        elif kind in LABEL_KINDS:
            is_prompt = kind is TaskKind.LABEL_INITIAL_PROMPT
            candidate = ReviewCandidate(
                message_id=row.node_id,
                tree_id=row.tree_id,
                role=Role.ASSISTANT if kind is TaskKind.LABEL_ASSISTANT_REPLY else Role.PROMPTER,
                depth=0 if is_prompt else 1,
                author_id=row.author_id,
                weight=row.weight,
            )
            (prompts if is_prompt else replies).append(candidate)
        elif kind in REPLY_KINDS:
            parents.append(
                ExtendibleParent(
                    message_id=row.node_id,
                    tree_id=row.tree_id,
                    role=Role.PROMPTER if kind is TaskKind.ASSISTANT_REPLY else Role.ASSISTANT,
                    author_id=row.author_id,
                    active_children_count=row.child_count,
                )
            )
        else:
            rankings.append(
                RankingCandidate(
                    parent_id=row.node_id,
                    tree_id=row.tree_id,
                    role_of_children=Role.ASSISTANT
                    if kind is TaskKind.RANK_ASSISTANT_REPLIES
                    else Role.PROMPTER,
                    child_ids=tuple(uuid.UUID(i) for i in row.child_ids),
                    weight=row.weight,
                )
            )
    return TaskCandidates(
        missing_prompts=missing,
        prompts_need_review=tuple(prompts),
        replies_need_review=tuple(replies),
        extendible_parents=tuple(parents),
        incomplete_rankings=tuple(rankings),
    )


# --- claiming one slot ---------------------------------------------------------------------


def lock_work(row_id: int, *, tree_id: uuid.UUID | None, kind: TaskKind) -> ReadyWork | None:
    """Lock the row to claim (and, for a reply, every reply row of its tree: the goal size is
    shared by the tree's parents); None when the work is gone."""
    reply = kind in REPLY_KINDS
    values = {"row_id": row_id, "tree_id": tree_id if reply else None}
    locked = {r.id: r for r in _LOCK_WORK.fetch(values, reply=reply)}
    return locked.get(row_id)


def _lock_work_query(*, row_id, tree_id, reply: bool):
    match = Q(id=row_id)
    if reply:
        match |= Q(tree_id=tree_id, kind__in=_REPLY)
    return ReadyWork.objects.select_for_update().filter(match).order_by("id")


_LOCK_WORK = CompiledQuery(
    _lock_work_query, sentinels={"row_id": -404_404_404, "tree_id": SENTINEL_IDS[1]}
)


def lock_user(user_id: uuid.UUID) -> None:
    """Lock the user's row: one user's concurrent claims run one after the other."""
    _LOCK_USER.rows({"user_id": user_id})


_LOCK_USER = CompiledQuery(
    lambda user_id: (
        User.objects.select_for_update(no_key=True).filter(id=user_id).values_list("id")[:1]
    ),
    sentinels={"user_id": SENTINEL_IDS[0]},
)


def live_counts(
    *, user_id: uuid.UUID, row: ReadyWork | None, now: datetime, config: TreeManagerConfig
) -> tuple[int, int, int, int]:
    """(the user's pending tasks, live leases on the row's node and kind, live reply leases in
    its tree, the user's pending tasks on that node and kind): one query, run after
    ``lock_user`` and ``lock_work`` so it sees every committed claim (the last count is the
    ``eligible`` exclusion re-checked: the user's parallel requests may have read the same
    node before either claimed it)."""
    since = now - timedelta(seconds=config.recent_tasks_span_sec)
    if row is None or row.node_id is None:
        return Task.objects.filter(_pending(now, since, user_id)).count(), 0, 0, 0
    sql, params = _LIVE_COUNTS.statement(
        {
            "now": now,
            "since": since,
            "user_id": user_id,
            "node_id": row.node_id,
            "kind": row.kind,
            "tree_id": row.tree_id,
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
        names = [column[0] for column in cursor.description]
    counts = dict(zip(names, found, strict=True)) if found else {}
    return (
        counts.get("pending", 0),
        counts.get("on_node", 0),
        counts.get("in_tree", 0),
        counts.get("mine_on_node", 0),
    )


def _live_counts_query(*, now, since, user_id, node_id, kind, tree_id):
    mine = _pending(now, since, user_id)
    on_node = _leasing(now) & Q(parent_message_id=node_id, payload_type=kind)
    in_tree = _leasing(now) & Q(message_tree_id=tree_id, payload_type__in=_REPLY)
    return (
        Task.objects.filter(mine | on_node | in_tree)
        .order_by()
        .annotate(one=Value(1))
        .values("one")
        .annotate(
            pending=Count("id", filter=mine),
            on_node=Count("id", filter=on_node),
            in_tree=Count("id", filter=in_tree),
            mine_on_node=Count("id", filter=mine & Q(parent_message_id=node_id, payload_type=kind)),
        )
    )


_LIVE_COUNTS = CompiledQuery(
    _live_counts_query,
    sentinels={
        "now": SENTINEL_TIMES[0],
        "since": SENTINEL_TIMES[1],
        "user_id": SENTINEL_IDS[0],
        "node_id": SENTINEL_IDS[1],
        "kind": "grove-kind-sentinel",
        "tree_id": SENTINEL_IDS[2],
    },
)
