"""The task request's queries on the ready-work index: read what a user may do, claim a slot.

``eligible`` reads the language's rows with a free slot, the per-user exclusions as
anti-joins, in one statement compiled once per process (a task request reads, per task
category, the first few rows the user may do from a random point of the category's index
order: its cost does not grow with the forest); ``as_candidates`` hands them to the
policy. The claim (``services.tasks._claim``) locks the chosen row with ``lock_work`` and
counts live leases (open tasks within their ``lease_until``) with ``live_counts`` on a fresh
snapshot. No lock is held while Python chooses.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan

from backend.accounts.models import User
from backend.compiled_query import (
    SENTINEL_IDS,
    SENTINEL_TIMES,
    CompiledQuery,
    compiled_once,
    db_value,
    uuid_from_db,
)
from backend.postgres_client import execute_prepared
from backend.trees.core.candidates import (
    ExtendibleParent,
    RankingCandidate,
    ReviewCandidate,
    TaskCandidates,
)
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.task_kinds import (
    CATEGORY_NUMBER,
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
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
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
    start: float | None = None,
) -> list[WorkRow]:
    """The language's work with a free slot that ``user_id`` may do (one query).

    Per-user rules (``core.policy``: may_review / may_reply / may_rank), as anti-joins: never
    one's own message; never a message already reviewed, a parent already answered or ranked,
    or a ranking among one's own replies; never a node the user skipped, was handed within
    ``recent_tasks_span_sec``, or still holds a task's lease on, for the same kind. No cap
    before these exclusions.
    Rows carry ``pending`` (the user's open tasks within ``recent_tasks_span_sec``).

    ``kind`` keeps that kind's rows only (and the initial-prompt row). ``sample`` reads, of
    each task category, the first ``SAMPLE_PER_CATEGORY`` rows the user may do in the
    category's random order (``ReadyWork.draw``) from the point ``start`` (random when not
    given), going round past the end: an index scan that checks rows one by one and stops
    when it has enough, so the statement's cost does not grow with the forest (at OA's scale
    a language has 1,166 rows; the earlier sample drew from all of them and checked 126). A
    category the user may do anything of is never seen as empty, however many of its rows
    are excluded: the scan goes on until it finds one. Every row of a category is as likely
    to be read as any other: the start is uniform, and a claim moves the row it claims to a
    new random place (``grove_claim``).
    """
    since = now - timedelta(seconds=config.recent_tasks_span_sec)
    values = {
        "lang": lang,
        "now": now,
        "since": since,
        "user_id": user_id,
        "kind": kind.value if kind is not None else None,
    }
    if sample and connection.vendor == "postgresql" and _LANG_LITERAL.fullmatch(lang):
        sql, params = _sampled_statement(values, random.random() if start is None else start)
        prepare = True  # dear to plan: once per connection (``execute_prepared``)
    else:
        sql, params = _ELIGIBLE.statement(values)
        prepare = False
    rows = _work_rows(sql, params, prepare)
    if any(row.node_id is None for row in rows):
        return rows
    # The first request in a language creates its initial-prompt row, then reads again.
    refresh_lang(lang, config)
    return _work_rows(sql, params, prepare)


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
    reviews: int = 0  # a review row's reviews so far (``core.shape.WorkItem.reviews``)
    pending: int | None = None
    config_pk: int | None = None  # the active configuration version's pk
    leased: int | None = None  # live leases on the row's node for its kind


_WORK_FIELDS = tuple(field.name for field in dataclasses.fields(WorkRow))
_UUID_FIELDS = ("tree_id", "node_id", "author_id")


def _work_rows(sql: str, params: list, prepare: bool = False) -> list[WorkRow]:
    with connection.cursor() as cursor:
        if prepare:
            execute_prepared(cursor, sql, params)
        else:
            cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        found = cursor.fetchall()
    wanted = [(name, names.index(name)) for name in _WORK_FIELDS if name in names]
    rows = []
    for values in found:
        row = WorkRow(**{name: values[i] for name, i in wanted})
        # SQLite hands back UUIDs as hex text and JSON as text; PostgreSQL decoded values.
        for name in _UUID_FIELDS:
            setattr(row, name, uuid_from_db(getattr(row, name)))
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
):
    """``eligible``'s full read as an ORM query (compiled once per process: ``CompiledQuery``;
    building and compiling its seven subqueries cost about a third of a web process's CPU at
    16 clients)."""
    rows = ReadyWork.objects.filter(Q(slots__gt=0) | Q(node__isnull=True), lang=lang)
    if kind is not None:
        rows = rows.filter(Q(kind=kind) | Q(node__isnull=True))
    rows = rows.annotate(
        # Which configuration version is active, read on the same snapshot: the caller
        # checks it against the version it used (``request_task``).
        config_pk=Subquery(active_pk_subquery(), output_field=IntegerField())
    )
    rows = _checked(rows, now=now, since=since, user_id=user_id)
    if user_id is not None:
        rows = rows.annotate(
            pending=Coalesce(
                Subquery(_pending_count(now, since, user_id), output_field=IntegerField()),
                Value(0),
            )
        )
    return rows.order_by("id")


def _checked(rows, *, now: datetime, since: datetime, user_id: uuid.UUID | None):
    """``rows`` with a free slot (live leases subtracted) that ``user_id`` may do."""
    return _with_leases(rows, now).filter(_may_do(now=now, since=since, user_id=user_id))


def _with_leases(rows, now: datetime):
    """``rows`` with their live leases: on the node for its kind, and replies in the tree.

    A node's count also names the node's tree (a task on a node is in the node's tree), so
    either lease index answers it by its leading columns. Without it, with statistics that
    saw no open task, the generic plan probed task_lease_by_tree by kind and lease alone:
    the whole index, dead entries included, per row (EXPLAIN at OA's scale: 46 pages per
    probe, 2,900 of the read's 3,300 buffers)."""
    return rows.annotate(
        leased=_leases(
            now,
            "parent_message_id",
            parent_message_id=OuterRef("node_id"),
            message_tree_id=OuterRef("tree_id"),
            payload_type=OuterRef("kind"),
        ),
        tree_leased=_leases(
            now, "message_tree_id", message_tree_id=OuterRef("tree_id"), payload_type__in=_REPLY
        ),
    )


def _may_do(*, now: datetime, since: datetime, user_id: uuid.UUID | None) -> Q:
    """Whether a row (``_with_leases``) has a free slot and ``user_id`` may do it."""
    return (Q(node__isnull=True) | Q(slots__gt=F("leased"))) & _may_do_in_tree(
        now=now, since=since, user_id=user_id
    )


def _may_do_in_tree(*, now: datetime, since: datetime, user_id: uuid.UUID | None) -> Q:
    """``_may_do`` less the node's own slot test (``slots > leased``): the tree has room for
    a reply (a row of another kind: no count made) and the user may do the row."""
    room = ~(Q(kind__in=_REPLY) & Q(tree_room__lte=F("tree_leased")))
    if user_id is None:
        return room
    return room & _not_excluded(now=now, since=since, user_id=user_id)


def _pending_count(now: datetime, since: datetime, user_id: uuid.UUID):
    """The user's pending tasks, counted (no row when there are none), from the user's open
    tasks (task_user_open: "NOT done AND NOT skipped", keyed by the user; from the user's
    recent tasks, ``task_user_created``, the read fetched every task handed to the user
    within ``recent_tasks_span_sec``, hundreds for a quick volunteer). The expiry is written
    through COALESCE, which implies no ``expiry_date IS NOT NULL``: written plainly it also
    implied task_open_expiring's condition, an index of every open task, which a generic plan
    made with statistics that saw no open task scanned whole, per request (EXPLAIN after a
    bench run: 2,900 buffers for the read at ~1,000 trees)."""
    open_now = Q(user_id=user_id, created_at__gte=since, done=False, skipped=False) & Q(
        GreaterThan(Coalesce(F("expiry_date"), Value(_LONG_AGO)), now)
    )
    return (
        Task.objects.filter(open_now)
        .order_by()
        .values("user_id")
        .annotate(n=Count("id"))
        .values("n")
    )


def _not_excluded(*, now: datetime, since: datetime, user_id: uuid.UUID) -> Q:
    """The per-user rules of ``eligible`` as anti-joins."""
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
    return (
        ~(Q(kind__in=_LABEL + _REPLY) & Q(author_id=user_id))
        & ~Exists(handled)
        & ~(Q(kind__in=_LABEL) & Exists(reviewed))
        & ~(Q(kind__in=_RANK) & Exists(ranked))
        & ~(Q(kind__in=_REPLY + _RANK) & Exists(wrote_child))
    )


# Rows of each task category one (random) request reads at most: see ``eligible``.
SAMPLE_PER_CATEGORY = 8
_SENTINELS = {
    "lang": "grove-lang-sentinel",
    "kind": "grove-kind-sentinel",
    "now": SENTINEL_TIMES[0],
    "since": SENTINEL_TIMES[1],
    "user_id": SENTINEL_IDS[0],
}
# Without a user the per-user anti-joins, and so ``since``, are not in the query.
_VANISH = {"user_id": {"since"}}
_ELIGIBLE = CompiledQuery(_eligible_query, sentinels=_SENTINELS, vanish=_VANISH)

# --- the sampled read: one statement, each category's slice an index scan that stops --------

_SAMPLED_COLUMNS = (
    "id",
    "lang",
    "kind",
    "tree_id",
    "node_id",
    "slots",
    "tree_room",
    "author_id",
    "child_count",
    "child_ids",
    "weight",
    "reviews",
    "leased",
)
_COLUMN_LIST = ", ".join(f'half."{name}"' for name in _SAMPLED_COLUMNS)
_NODE_CATEGORIES = tuple(
    CATEGORY_NUMBER[category]
    for category in KINDS_OF_CATEGORY
    if category is not CATEGORY_OF[TaskKind.INITIAL_PROMPT]
)


def _slice_query(*, now, since, user_id, kind=None, start, lang: str, category: int, above: bool):
    """One half of a category's slice, in ``draw`` order: the rows at or past ``start``
    (``above``), or from the beginning up to ``start`` (going round), each with ``ok``: it
    has a free slot and the user may do it. The checks are a column, not a filter, so that
    ``_sampled_statement`` can take them after the order behind a fence: as a filter the
    prepared statement's generic plan checked every row of the category before sorting
    (EXPLAIN at OA's scale, en: 67 rows checked, 779 buffers, for 8 kept).

    The language and the category are written into the statement (one statement per
    language, compiled once per process), not bound: with "lang = $1" the generic plan
    estimated 2 rows for any language and sorted the whole category (en's 657 label rows:
    0.6 ms) instead of reading the index in order."""
    rows = ReadyWork.objects.extra(
        where=[f"{_TABLE}.\"lang\" = '{lang}'", f'{_TABLE}."category" = {int(category)}']
    ).filter(slots__gt=0)
    if kind is not None:
        rows = rows.filter(kind=kind)
    rows = rows.filter(draw__gte=start) if above else rows.filter(draw__lt=start)
    # The node's slot test (``slots > leased``) is the outer query's (``_FREE_SLOT``): in
    # ``ok`` it counted the node's leases a second time per row read, beside the ``leased``
    # column (PostgreSQL runs each of the two subqueries).
    rows = _with_leases(rows, now).annotate(
        ok=ExpressionWrapper(
            _may_do_in_tree(now=now, since=since, user_id=user_id), output_field=BooleanField()
        )
    )
    return rows.order_by("draw").values(*_SAMPLED_COLUMNS, "ok")


# ``_may_do``'s slot test on a slice's row (``_slice_query``), by its ``leased`` column.
_FREE_SLOT = "(half.node_id IS NULL OR half.slots > half.leased)"


_TABLE = f'"{ReadyWork._meta.db_table}"'
# Languages a statement may name (``_slice_query``); any other is read in full.
_LANG_LITERAL = re.compile(r"[A-Za-z0-9_-]{1,32}")
_START = 0.404_404_404_404  # the sentinel of ``start`` (see ``_sampled_template``)
_PROMPT_ROW = CompiledQuery(
    lambda lang: (
        ReadyWork.objects.filter(lang=lang, kind=TaskKind.INITIAL_PROMPT.value, node__isnull=True)
        .annotate(leased=Value(0, output_field=IntegerField()))
        .values(*_SAMPLED_COLUMNS)
    ),
    sentinels={"lang": _SENTINELS["lang"]},
)


def _sampled_statement(values: dict, start: float) -> tuple[str, dict]:
    """``eligible``'s sampled read with this call's values (``_sampled_template``)."""
    sql, names, constants = _sampled_template(
        values["lang"], values["kind"] is not None, values["user_id"] is not None
    )
    given = {**values, "start": start}
    params = dict(constants)
    for name in names:
        params[name] = db_value(given[name])
    return sql, params


@compiled_once(maxsize=128)
def _sampled_template(lang: str, by_kind: bool, for_user: bool) -> tuple[str, tuple, dict]:
    """The sampled read's SQL for a language (written into it, ``_slice_query``), with named
    parameters: (SQL, the names taken from each call's values, the constants' values).

    Per category (or the requested kind's), the first ``SAMPLE_PER_CATEGORY`` eligible rows
    in ``draw`` order from ``start``, going round (an ``UNION ALL`` under a ``LIMIT`` runs
    its second half only when the first falls short); the initial-prompt row; the user's
    pending count and the active configuration's pk (each evaluated once). Each value is one
    parameter however often the statement uses it: 310 positional parameters, bound and
    sent on every call, and the statement assembled per call cost 0.2 ms of Python."""
    values = {
        **_SENTINELS,
        "lang": lang,
        "start": _START,
        "kind": _SENTINELS["kind"] if by_kind else None,
        "user_id": _SENTINELS["user_id"] if for_user else None,
    }
    if not for_user:
        values.pop("since")
    parts, params = [], []
    config_sql, config_params = _compiled(active_pk_subquery())
    columns = [f"({config_sql}) AS config_pk"]
    params += config_params
    if for_user:
        pending_sql, pending_params = _compiled(
            _pending_count(values["now"], values["since"], values["user_id"])
        )
        columns.append(f"COALESCE(({pending_sql}), 0) AS pending")
        params += pending_params
    for number in _NODE_CATEGORIES:
        halves = []
        for above in (True, False):
            sql, half_params = _compiled(
                _slice_query(
                    now=values["now"],
                    since=values.get("since"),
                    user_id=values["user_id"],
                    kind=values["kind"],
                    start=_START,
                    lang=lang,
                    category=number,
                    above=above,
                )
            )
            # OFFSET 0 keeps PostgreSQL from pulling the checks into the scan: it reads the
            # category's index in order and checks rows until it has enough.
            halves.append(
                f"(SELECT {_COLUMN_LIST} FROM ({sql} OFFSET 0) AS half "
                f"WHERE half.ok AND {_FREE_SLOT} LIMIT {SAMPLE_PER_CATEGORY})"
            )
            params += half_params
        parts.append(
            f"SELECT * FROM ({halves[0]} UNION ALL {halves[1]} "
            f"LIMIT {SAMPLE_PER_CATEGORY}) AS category_{number}"
        )
    prompt_sql, prompt_params = _compiled(_PROMPT_ROW.build(lang=_SENTINELS["lang"]))
    parts.append(f"SELECT * FROM ({prompt_sql}) AS prompt")
    params += prompt_params
    sql = f"SELECT sampled.*, {', '.join(columns)} FROM ({' UNION ALL '.join(parts)}) AS sampled"
    return _named(sql, params, {name: v for name, v in values.items() if v is not None})


def _compiled(queryset) -> tuple[str, list]:
    return queryset.query.get_compiler(connection=connection).as_sql()


def _named(sql: str, params: list, sentinels: dict) -> tuple[str, tuple, dict]:
    """``sql`` with each positional parameter named: a sentinel's by its name, every other
    by its value (equal values share a name)."""
    by_sentinel = {db_value(value): name for name, value in sentinels.items() if name != "lang"}
    by_sentinel[_SENTINELS["lang"]] = "lang"
    constants: dict[str, object] = {}
    constant_names: dict[tuple, str] = {}
    names: list[str] = []
    position = iter(params)

    def name_of(token: re.Match) -> str:
        if token.group() == "%%":
            return "%%"
        value = next(position)
        if value in by_sentinel:
            names.append(by_sentinel[value])
            return f"%({by_sentinel[value]})s"
        key = (type(value), value)
        if key not in constant_names:
            constant_names[key] = f"c{len(constant_names)}"
            constants[constant_names[key]] = value
        return f"%({constant_names[key]})s"

    named = re.sub(r"%%|%s", name_of, sql)
    if next(position, _END) is not _END:
        raise RuntimeError("the sampled read has more parameters than placeholders")
    return named, tuple(dict.fromkeys(names)), constants


_END = object()


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
                review_count=row.reviews,
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
