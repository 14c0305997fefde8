"""The ready-work index: what can be handed out now, kept beside the trees (the write side).

Writers pay, readers don't. Every service that changes a tree calls ``refresh_trees`` in its
own transaction, which recomputes the tree's rows from ``core.shape.ready_work`` (the one home
of the structural rules) and writes only the difference; a review or ranking takes its slot
with ``take_slot``; ``refresh_lang`` keeps the per-language initial-prompt row. ``rebuild``
recomputes everything from the trees (the ``rebuild_ready_work`` command and the periodic
consistency sweep). A task request reads and claims through ``work_queries``.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Avg, Count, FloatField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from backend.compiled_query import SENTINEL_IDS, CompiledQuery, db_value
from backend.fast_writes import Batch
from backend.push import signals as push_signals
from backend.trees.core import policy, shape
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.lifecycle import TreeState
from backend.trees.core.task_kinds import Role, TaskKind
from backend.trees.models import (
    Message,
    MessageReaction,
    MessageTree,
    ReactionType,
    ReadyWork,
    TextLabels,
)

# ``skip_reason`` of tasks closed by ``maintenance.expire_tasks`` and of pushed tasks returned
# to the pool (``services.push_leases``), for people reading the table: what makes them not a
# skip by the user is ``Task.skipped_by_user`` left false.
EXPIRED_SKIP_REASON = "expired"
RETURNED_SKIP_REASON = "returned"
# States whose trees offer work (the others have no rows).
WORKING_STATES = (TreeState.INITIAL_PROMPT_REVIEW, TreeState.GROWING, TreeState.RANKING)
REBUILD_BATCH = 500


# --- reading trees -------------------------------------------------------------------------


def load_shapes(tree_ids: Iterable[uuid.UUID], config: TreeManagerConfig) -> dict:
    """``{tree id: core.shape.TreeShape}`` for the trees that exist: three queries (the trees,
    their messages, their rankings per parent), one for a single tree on PostgreSQL (the
    request path's and the advance job's case); a fourth when a quality gate is configured."""
    ids = list(tree_ids)
    if len(ids) == 1 and connection.vendor == "postgresql":
        found = _one_tree_in_one_statement(ids[0])
        if found is None:
            return {}
        trees, rows, ranked = found
    else:
        trees = {t[0]: t for t in _trees(id__in=ids)}
        if not trees:
            return {}
        rows = list(_messages(message_tree_id__in=trees))
        ranked = list(_rankings(message__message_tree_id__in=trees))
    quality: dict = {}
    if any(
        threshold is not None
        for threshold in (
            config.min_prompt_quality,
            config.min_reply_quality_for_extension,
            config.min_tree_quality,
        )
    ):
        quality = mean_quality_by_message(r[0] for r in rows)
    rankings: dict = defaultdict(dict)
    for parent_id, tree_id, n in ranked:
        rankings[tree_id][parent_id] = n
    nodes: dict = defaultdict(list)
    for (
        mid,
        tid,
        parent_id,
        depth,
        role,
        author,
        result,
        reviews,
        deleted,
        reviews_asked,
        rankings_asked,
        review_posterior,
        ranking_agreement,
    ) in rows:
        nodes[tid].append(
            shape.Node(
                id=mid,
                parent_id=parent_id,
                depth=depth,
                role=Role(role),
                author_id=author,
                review_result=result,
                review_count=reviews,
                deleted=deleted,
                mean_quality=quality.get(mid),
                reviews_asked=reviews_asked,
                rankings_asked=rankings_asked,
                review_posterior=review_posterior,
                ranking_agreement=ranking_agreement,
            )
        )
    return {
        tid: shape.TreeShape(
            tree_id=tid,
            state=TreeState(state),
            lang=lang,
            goal_tree_size=goal,
            max_depth=max_depth,
            max_children_count=max_children,
            nodes=tuple(nodes[tid]),
            rankings_done=rankings[tid],
        )
        for tid, (_id, state, lang, goal, max_depth, max_children) in trees.items()
    }


# The columns a shape is built from, in the order load_shapes unpacks them.
_TREE_COLUMNS = ("id", "state", "lang", "goal_tree_size", "max_depth", "max_children_count")
_MESSAGE_COLUMNS = (
    "id",
    "message_tree_id",
    "parent_id",
    "depth",
    "role",
    "user_id",
    "review_result",
    "review_count",
    "deleted",
    "reviews_asked",
    "rankings_asked",
    "review_posterior",
    "ranking_agreement",
)


def _trees(**match):
    return MessageTree.objects.filter(**match).values_list(*_TREE_COLUMNS)


def _messages(**match):
    return Message.objects.filter(**match).values_list(*_MESSAGE_COLUMNS)


def _rankings(**match):
    """Rankings done per parent: (parent id, tree id, count)."""
    return (
        MessageReaction.objects.filter(payload_type=ReactionType.RANKING, **match)
        .values("message_id")
        .annotate(n=Count("id"))
        .values_list("message_id", "message__message_tree_id", "n")
    )


@functools.cache
def _one_tree_statement() -> str:
    """The tree, a row per message, and per message the rankings of its replies done:
    ``_trees``, ``_messages`` and ``_rankings`` for one tree, in one statement."""
    tree = ", ".join(f"t.{MessageTree._meta.get_field(name).column}" for name in _TREE_COLUMNS)
    message = ", ".join(f"m.{Message._meta.get_field(name).column}" for name in _MESSAGE_COLUMNS)
    return (
        f"SELECT {tree}, {message}, (SELECT count(*) FROM {MessageReaction._meta.db_table} r"
        "  WHERE r.message_id = m.id AND r.payload_type = %s)"
        f" FROM {MessageTree._meta.db_table} t"
        f" LEFT JOIN {Message._meta.db_table} m ON m.message_tree_id = t.id"
        " WHERE t.id = %s"
    )


def _one_tree_in_one_statement(tree_id: uuid.UUID) -> tuple[dict, list, list] | None:
    """PostgreSQL: ``load_shapes``' three reads of one tree (the tree, its messages, its
    rankings done per parent) in one round trip; None if the tree does not exist. The reply
    path and every advance job read a shape: two round trips fewer each."""
    with connection.cursor() as cursor:
        cursor.execute(_one_tree_statement(), [ReactionType.RANKING, db_value(tree_id)])
        found = cursor.fetchall()
    if not found:
        return None
    split = len(_TREE_COLUMNS)
    tree = found[0][:split]
    rows = [row[split:-1] for row in found if row[split] is not None]
    ranked = [(row[split], tree[0], row[-1]) for row in found if row[-1]]
    return {tree[0]: tree}, rows, ranked


def mean_quality_by_message(message_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, float]:
    """Mean ``quality`` label per message over its reviews (labels given on a review task)
    that set it: the quality gates. Free labels and reports are not reviews and do not count
    (anyone may send them, as often as they like)."""
    return dict(
        TextLabels.objects.filter(
            message_id__in=list(message_ids), task__isnull=False, labels__has_key="quality"
        )
        .values("message_id")
        .annotate(q=Avg(Cast(KeyTextTransform("quality", "labels"), FloatField())))
        .values_list("message_id", "q")
    )


# --- writing the index ---------------------------------------------------------------------


# No savepoint (two round trips): a caller's transaction fails as a whole if this raises.
@transaction.atomic(savepoint=False)
def refresh_trees(
    tree_ids: Iterable[uuid.UUID], config: TreeManagerConfig, *, shapes: dict | None = None
) -> None:
    """Bring the rows of these trees in line with the trees (call inside the change's
    transaction). Rows keep their ids while the work exists, so a request that read a row
    can still claim it. ``shapes`` (from ``load_shapes`` in the same transaction, with no
    change since) saves reading the trees again."""
    ids = [tid for tid in tree_ids if tid is not None]
    if not ids:
        return
    owed = _owed.get()
    if owed is not None:
        for tid in ids:
            owed.trees[tid] = (config, (shapes or {}).get(tid))
        return
    if shapes is None:
        shapes = load_shapes(ids, config)
    wanted: dict[tuple, ReadyWork] = {}
    for tid, tree in shapes.items():
        for item in shape.ready_work(tree, config):
            wanted[(item.node_id, item.kind.value)] = ReadyWork(
                lang=tree.lang,
                kind=item.kind.value,
                tree_id=tid,
                node_id=item.node_id,
                slots=item.slots,
                tree_room=item.tree_room,
                author_id=item.author_id,
                child_count=item.child_count,
                child_ids=[str(i) for i in item.child_ids],
                weight=item.weight,
                reviews=item.reviews,
            )
    fields = ("slots", "tree_room", "author_id", "child_count", "child_ids", "weight", "reviews")
    stale, changed = [], []
    existing = (
        _ONE_TREES_WORK.fetch({"tree_id": ids[0]})
        if len(ids) == 1
        else ReadyWork.objects.select_for_update().filter(tree_id__in=ids).order_by("id")
    )
    for row in existing:
        new = wanted.pop((row.node_id, row.kind), None)
        if new is None:
            stale.append(row.id)
        elif any(getattr(row, f) != getattr(new, f) for f in fields):
            for f in fields:
                setattr(row, f, getattr(new, f))
            changed.append(row)
    # One statement on PostgreSQL (``Batch``): Django's bulk_update built a CASE per field
    # and row, about 3 ms of Python per call (``cycle_cpu.py --time``), the delete ran its
    # collector, and each was a round trip of its own. The three touch different rows.
    writes = Batch()
    writes.delete(ReadyWork, stale)
    for row in changed:
        writes.update(ReadyWork, row.id, {f: getattr(row, f) for f in fields})
    for item in wanted.values():
        writes.insert(item)
    writes.send()
    if wanted or changed:
        push_signals.work_changed(tree.lang for tree in shapes.values())


_ONE_TREES_WORK = CompiledQuery(
    lambda tree_id: ReadyWork.objects.select_for_update().filter(tree_id=tree_id).order_by("id"),
    sentinels={"tree_id": SENTINEL_IDS[0]},
)


def take_slot(*, node_id: uuid.UUID, kind: str, writes: Batch | None = None) -> int | None:
    """A review or a ranking of ``node_id`` was stored (in the caller's transaction): the row
    needs one fewer, which is ``shape.review_room`` / ``ranking_room`` after the change. One
    UPDATE instead of a refresh on the request path, sent with ``writes`` when given. Returns
    the slots left, None when the node has no such row (the index and the tree disagree: let
    the advance job decide)."""
    table = ReadyWork._meta.db_table
    found = (writes or Batch()).send(
        f"UPDATE {table} SET slots = slots - 1 "
        "WHERE node_id = %s AND kind = %s AND slots > 0 RETURNING slots",
        [db_value(node_id), kind],
    )
    return found[0] if found else None


def is_complete(slots_left: int | None) -> bool:
    """After ``take_slot``: the node holds every review or ranking it needed (or the index
    does not know it), so a decision may be due and the tree's advance job must run. Until
    then nothing a review or ranking changes can move the tree (``core.shape``: consensus
    reads a message only once its reviews are all in, a ranked tree only once every parent
    has its rankings), and the job would only repeat what ``take_slot`` did."""
    return not slots_left


@dataclass
class _Owed:
    """The refreshes an ``index_refreshed_last`` block owes: per tree, the latest config and
    shape handed to ``refresh_trees`` (None: read the tree then); per language, the config."""

    trees: dict[uuid.UUID, tuple[TreeManagerConfig, shape.TreeShape | None]] = field(
        default_factory=dict
    )
    langs: dict[str, TreeManagerConfig] = field(default_factory=dict)


_owed: ContextVar[_Owed | None] = ContextVar("grove_index_refreshes_owed", default=None)


@contextmanager
def index_refreshed_last():
    """Inside the block (one transaction), ``refresh_trees`` and ``refresh_lang`` only note
    what they were asked; each tree and language is refreshed once, at the block's end.

    Their rows stay locked until the change commits, and task requests claim from them: an
    advance job refreshed a tree's rows and its language's initial-prompt row at its first
    state change and held them through the rest of its work (lottery draws included).
    pg_stat_statements at 16 clients: the UPDATE of the language row waited 25 ms on average,
    the third largest total time of the run. Taken last, the rows are held shortest."""
    token = _owed.set(_Owed())
    try:
        yield
        owed = _owed.get()
    finally:
        _owed.reset(token)
    for tree_id, (config, known) in owed.trees.items():
        refresh_trees([tree_id], config, shapes=None if known is None else {tree_id: known})
    for lang, config in owed.langs.items():
        refresh_lang(lang, config)


def refresh_lang(lang: str, config: TreeManagerConfig) -> None:
    """The language's initial-prompt row: how many new prompts to ask for (left alone, not
    even locked, when the count is unchanged)."""
    owed = _owed.get()
    if owed is not None:
        owed.langs[lang] = config
        return
    counts = dict(
        MessageTree.objects.filter(lang=lang, state__in=_COUNTED_STATES)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    missing = policy.count_missing_prompts(
        config,
        lang=lang,
        growing=counts.get(TreeState.GROWING, 0),
        initial_prompt_review=counts.get(TreeState.INITIAL_PROMPT_REVIEW, 0),
        prompt_lottery_waiting=counts.get(TreeState.PROMPT_LOTTERY_WAITING, 0),
    )
    kind = TaskKind.INITIAL_PROMPT.value
    row = ReadyWork.objects.filter(lang=lang, kind=kind, node__isnull=True)
    updated = row.exclude(slots=missing).update(slots=missing)
    if not updated and not row.exists():
        ReadyWork.objects.bulk_create(
            [ReadyWork(lang=lang, kind=kind, slots=missing)], ignore_conflicts=True
        )
    if missing > 0:
        push_signals.work_changed([lang])


_COUNTED_STATES = (
    TreeState.GROWING,
    TreeState.INITIAL_PROMPT_REVIEW,
    TreeState.PROMPT_LOTTERY_WAITING,
)


def rebuild(config: TreeManagerConfig) -> int:
    """Recompute the whole index from the trees; returns the rows it holds afterwards."""
    ReadyWork.objects.exclude(tree__state__in=WORKING_STATES).exclude(tree__isnull=True).delete()
    ids = list(
        MessageTree.objects.filter(state__in=WORKING_STATES)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for start in range(0, len(ids), REBUILD_BATCH):
        refresh_trees(ids[start : start + REBUILD_BATCH], config)
    langs = set(MessageTree.objects.values_list("lang", flat=True).distinct())
    langs |= set(ReadyWork.objects.values_list("lang", flat=True).distinct())
    for lang in sorted(langs):
        refresh_lang(lang, config)
    return ReadyWork.objects.count()
