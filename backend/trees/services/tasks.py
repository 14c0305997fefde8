"""Handing out tasks (ack, nack and close live in ``task_lifecycle``).

``request_task`` reads the language's ready work with the user's exclusions applied
(``work_queries.eligible``, one query, no lock), lets the pure policy choose with OA's weights,
then *claims* one slot in a short transaction: the user row is locked (one user's concurrent
requests stay under ``max_pending_tasks_per_user``), then the work row (for a reply, every
reply row of its tree: the goal size is shared), then live leases are counted on a fresh
snapshot and the task inserted only if a slot is free. Lock order: user, then work rows; no
service locks them the other way round. A request that loses the race for a slot tries
another candidate. On PostgreSQL the claim is one round trip (``grove_claim``, the same
steps in a database function); a task request then runs two statements (the read, which
also returns the active configuration's version, and the claim).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Random
from django.utils import timezone

from backend import events
from backend.accounts.models import ApiClient, User
from backend.fast_writes import Batch, as_json_row
from backend.observability import metrics
from backend.trees import journal, selectors, work_queries
from backend.trees.core import policy
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.policy import (
    ChosenTask,
    ExtendibleParent,
    NoTaskAvailable,
    RankingCandidate,
    ReviewCandidate,
    TaskKind,
)
from backend.trees.core.sequential import skill_of
from backend.trees.core.task_kinds import LABEL_KINDS, RANK_KINDS, REPLY_KINDS
from backend.trees.growth_config import active_config, last_seen_config
from backend.trees.models import JournalEntry, ReadyWork, Task
from backend.trees.services.reliability import reviewer_skills

RESERVATION_ATTEMPTS = 5


def request_task(
    *,
    user: User,
    kind: TaskKind,
    lang: str,
    api_client: ApiClient | None = None,
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> Task:
    """Choose and claim the next task for ``user`` in ``lang``.

    Raises ``NoTaskAvailable`` (or its ``TooManyPendingTasks``) when nothing can be handed out.
    """
    try:
        task = _choose_and_claim(
            user=user, kind=kind, lang=lang, api_client=api_client, rng=rng, now=now
        )
    except policy.NoTaskAvailable as exc:
        reason = (
            "too_many_pending" if isinstance(exc, policy.TooManyPendingTasks) else "none_available"
        )
        metrics.TASK_REQUESTS_UNSERVED.labels(kind.value, metrics.lang_label(lang), reason).inc()
        raise
    metrics.count_task(metrics.TASKS_HANDED_OUT, task)
    return task


def _choose_and_claim(
    *,
    user: User,
    kind: TaskKind,
    lang: str,
    api_client: ApiClient | None,
    rng: random.Random | None,
    now: datetime | None,
) -> Task:
    rng = rng or random.Random()
    now = now or timezone.now()
    # The configuration this process used last, checked by the read itself (it returns the
    # active version's pk): a version change is seen by the very next request, without a
    # query of its own before every read.
    seen = last_seen_config()
    config = seen[1] if seen is not None else active_config()

    # Where the sampled read starts in each category's random order: drawn once, so a read
    # again under a newer configuration starts from the same point (and a seeded run does
    # not depend on which version the process saw last).
    start = random.random()

    def read(config: TreeManagerConfig) -> list[work_queries.WorkRow]:
        return work_queries.eligible(
            lang=lang,
            now=now,
            config=config,
            user_id=user.id,
            kind=None if kind is TaskKind.RANDOM else kind,
            sample=True,
            start=start,
        )

    rows = read(config)
    if seen is not None and rows and rows[0].config_pk != seen[0]:
        config = active_config()
        rows = read(config)
    if rows and rows[0].pending >= config.max_pending_tasks_per_user:
        raise policy.TooManyPendingTasks(kind, "too many pending tasks")
    by_node = {(row.node_id, row.kind): row for row in rows}
    candidates = work_queries.as_candidates(rows)
    claim = _ClaimFor(
        user=user,
        api_client=api_client if api_client is not None else _loaded_client(user),
        api_client_id=api_client.id if api_client is not None else user.api_client_id,
        lang=lang,
        config=config,
        rng=rng,
        now=now,
        explicit=kind is not TaskKind.RANDOM,
    )
    informativeness = _reviewer_informativeness(user, kind, config)
    for _attempt in range(RESERVATION_ATTEMPTS):
        chosen = policy.choose_eligible_task(kind, candidates, config, rng, informativeness)
        row = by_node[(_node_of(chosen), chosen.kind.value)]
        task = _claim(chosen, row, claim)
        if task is not None:
            return task
        metrics.TASK_CLAIM_CONFLICTS.labels(chosen.kind.value, metrics.lang_label(lang)).inc()
        candidates = _without(candidates, chosen.target)
    raise NoTaskAvailable(kind, "every candidate was taken by concurrent requests", contended=True)


def _reviewer_informativeness(
    user: User, kind: TaskKind, config: TreeManagerConfig
) -> float | None:
    """The user's estimated skill as a reviewer, for first-review routing
    (``policy.routed_reviews``); None, and no query, while routing is off or when the
    request cannot end in a review."""
    if config.first_review_min_informativeness <= 0:
        return None
    if kind is not TaskKind.RANDOM and kind not in LABEL_KINDS:
        return None
    skills = reviewer_skills([user.id], config)
    return skill_of(user.id, skills, config).informativeness


def _loaded_client(user: User) -> ApiClient | None:
    """The user's API client if it is loaded already (the HTTP path attaches it); a caller
    without it (simulators, benchmarks) needs only its id, which the user row holds."""
    return user.api_client if User.api_client.is_cached(user) else None


def _node_of(chosen: ChosenTask):
    target = chosen.target
    if isinstance(target, ReviewCandidate | ExtendibleParent):
        return target.message_id
    if isinstance(target, RankingCandidate):
        return target.parent_id
    return None


def _without(candidates: policy.TaskCandidates, target) -> policy.TaskCandidates:
    def keep(items):
        return tuple(item for item in items if item is not target)

    return dataclasses.replace(
        candidates,
        prompts_need_review=keep(candidates.prompts_need_review),
        replies_need_review=keep(candidates.replies_need_review),
        extendible_parents=keep(candidates.extendible_parents),
        incomplete_rankings=keep(candidates.incomplete_rankings),
    )


def _claim(chosen: ChosenTask, row: work_queries.WorkRow, claim: _ClaimFor) -> Task | None:
    """Insert the task if its slot is still free; None if it was taken meanwhile."""
    path = _claim_in_database if _claims_in_database() else _claim_step_by_step
    if _inside_callers_transaction():
        task = _claim_in_savepoint(path, chosen, row, claim)
    else:
        task = path(chosen, row, claim)
    if task is not None:
        events.publish_to_assignee("task_assigned", task)
    return task


def _inside_callers_transaction() -> bool:
    """Whether the claim runs inside a transaction someone opened around it. A test case's own
    wrapping transaction does not count, as for Django's ``atomic(durable=True)`` check: there
    each test stands for a request made outside any transaction."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def _claim_in_savepoint(path, chosen: ChosenTask, row, claim: _ClaimFor) -> Task | None:
    """A claim inside the caller's transaction (a new user's first request: ``user_for_request``
    keeps the new row only if the request succeeds). A refused attempt's row locks would last
    until that transaction ends, while the request tries other candidates: two requests each
    holding one's rows and wanting the other's deadlocked (PostgreSQL's log at 64 clients:
    ``deadlock detected`` between grove_claim calls, answered 503). Rolled back to its
    savepoint, a refused attempt leaves no lock behind."""
    savepoint = transaction.savepoint()
    try:
        task = path(chosen, row, claim)
    except BaseException:
        transaction.savepoint_rollback(savepoint)
        raise
    if task is None:
        transaction.savepoint_rollback(savepoint)
    else:
        transaction.savepoint_commit(savepoint)
    return task


@dataclasses.dataclass(frozen=True, slots=True)
class _ClaimFor:
    """Who claims, where and under which configuration (the same for every attempt)."""

    user: User
    api_client: ApiClient | None  # cached on the task when the caller has it loaded
    api_client_id: uuid.UUID
    lang: str
    config: TreeManagerConfig
    rng: random.Random
    now: datetime
    explicit: bool  # the user asked for this kind (not random)


def _claims_in_database() -> bool:
    return settings.GROVE_CLAIM_IN_DATABASE and connection.vendor == "postgresql"


def _new_task(
    chosen: ChosenTask,
    payload: dict,
    node: ReadyWork | work_queries.WorkRow | None,
    claim: _ClaimFor,
) -> tuple[Task, JournalEntry]:
    """The task row to insert and its journal entry (not written yet)."""
    expiry = claim.now + timedelta(seconds=settings.GROVE_TASK_EXPIRY_SECONDS)
    payload["lang"] = claim.lang
    task = Task(
        payload_type=chosen.kind.value,
        payload=payload,
        user=claim.user,
        api_client_id=claim.api_client_id,
        message_tree_id=node.tree_id if node else None,
        parent_message_id=node.node_id if node else None,
        created_at=claim.now,
        expiry_date=expiry,
        # Until acked; never past the task's own validity.
        lease_until=min(expiry, claim.now + timedelta(seconds=claim.config.recent_tasks_span_sec)),
    )
    entry = journal.entry(
        "task_created",
        payload={"kind": chosen.kind.value},
        message_tree_id=task.message_tree_id,
        message_id=task.parent_message_id,
        user_id=claim.user.id,
        api_client_id=claim.api_client_id,
    )
    if claim.api_client is not None:
        task.api_client = claim.api_client
    return task, entry


def _claim_in_database(
    chosen: ChosenTask, row: work_queries.WorkRow, claim: _ClaimFor
) -> Task | None:
    """``_claim`` in one round trip: ``grove_claim`` (migration trees 0005) locks, counts and
    inserts as ``_claim_step_by_step`` does. The payload is built from the row ``eligible``
    read; for a ranking the function refuses the claim if the row's replies changed since."""
    node = row if row.node_id is not None else None
    payload = _payload(chosen, node, claim)
    task, entry = _new_task(chosen, payload, node, claim)
    ranking = chosen.kind in RANK_KINDS
    sql, params = (
        _CLAIM_SQL,
        [
            claim.user.id,
            row.id if node else None,
            row.tree_id,
            chosen.kind in REPLY_KINDS,
            claim.now,
            claim.now - timedelta(seconds=claim.config.recent_tasks_span_sec),
            claim.config.max_pending_tasks_per_user,
            json.dumps(row.child_ids) if ranking else None,
            as_json_row(task),
            as_json_row(entry),
        ],
    )
    target = selectors.task_conversation_target(task.payload_type, payload)
    if target is not None:
        # The task's conversation comes back with the claim: one statement less per task
        # handed out (REST and push). A refused claim reads none (the join's condition).
        path_sql, path_params = selectors.conversation_statement(
            target[0], viewer_id=claim.user.id, also=target[1]
        )
        sql = _CLAIM_WITH_CONVERSATION_SQL.format(claim=sql, conversation=path_sql)
        params += path_params
    with _transaction_of_its_own(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    outcome = rows[0][0]
    if outcome == _TOO_MANY_PENDING:
        raise policy.TooManyPendingTasks(chosen.kind, "too many pending tasks")
    if outcome != _CLAIMED:
        return None
    task._state.adding = False
    task._state.db = connection.alias
    if target is not None:
        # For render_task (frontend_api.v1.protocol), as read for this viewer.
        task.claimed_conversation = (
            claim.user.id,
            selectors.conversation_from_rows(found[1:] for found in rows),
        )
    journal.logged("task_created", task.message_tree_id, task.parent_message_id, claim.user.id)
    return task


_CLAIMED, _TOO_MANY_PENDING = 0, 2
_CLAIM_SQL = (
    "SELECT grove_claim(%s::uuid, %s::bigint, %s::uuid, %s::boolean, %s::timestamptz, "
    "%s::timestamptz, %s::integer, %s::jsonb, %s::jsonb, %s::jsonb)"
)
# The claim first (a materialized CTE runs once, before the join reads it), then the
# conversation's rows beside its outcome, only when it claimed. The path is read under the
# statement's snapshot, taken before any lock wait of the claim: the path's messages are
# those the eligible read saw, and a reply written meanwhile is not on a task's path.
_CLAIM_WITH_CONVERSATION_SQL = (
    "WITH grove_claimed AS MATERIALIZED ({claim} AS outcome) "
    "SELECT grove_claimed.outcome, conversation.* FROM grove_claimed "
    "LEFT JOIN LATERAL ({conversation}) conversation ON grove_claimed.outcome = 0 "
    "ORDER BY conversation.grove_up DESC"
)


def _transaction_of_its_own() -> contextlib.AbstractContextManager:
    """The claim's statement in a transaction (BEGIN, grove_claim, COMMIT) unless one is open
    around it already (the caller's, or a test case's). In autocommit PostgreSQL commits the
    claim before it sends the answer: a web process killed while its claim waited for a row
    lock (issue 11: a push round's claims waiting on a user's row) left a backend that
    committed the task once the lock was let go, a task handed to nobody and unknown to the
    push state, holding its slot and its user's pending count until its lease ran out. In a
    transaction the backend commits only on the client's COMMIT, sent after the client read
    the outcome; a client that is gone is read as end of file and the claim rolled back.
    Per attempt, not per request: a refused attempt's locks end with its transaction, before
    the next candidate is tried (as ``_claim_in_savepoint`` does inside a caller's)."""
    if connection.in_atomic_block:
        return contextlib.nullcontext()
    return transaction.atomic()


@transaction.atomic
def _claim_step_by_step(
    chosen: ChosenTask, row: work_queries.WorkRow, claim: _ClaimFor
) -> Task | None:
    """``_claim`` one statement at a time (SQLite; PostgreSQL with
    ``GROVE_CLAIM_IN_DATABASE=false``)."""
    work_queries.lock_user(claim.user.id)
    locked = None
    if row.node_id is not None:
        locked = work_queries.lock_work(row.id, tree_id=row.tree_id, kind=chosen.kind)
        if locked is None:
            return None
    pending, on_node, in_tree, mine_on_node = work_queries.live_counts(
        user_id=claim.user.id, row=locked, now=claim.now, config=claim.config
    )
    if pending >= claim.config.max_pending_tasks_per_user:
        raise policy.TooManyPendingTasks(chosen.kind, "too many pending tasks")
    if locked is not None and (
        mine_on_node  # one user's parallel request claimed this node first
        or on_node >= locked.slots
        or (chosen.kind in REPLY_KINDS and in_tree >= (locked.tree_room or 0))
    ):
        return None
    payload = _payload(chosen, locked, claim)
    task, entry = _new_task(chosen, payload, locked, claim)
    # The task and its journal entry: one statement on PostgreSQL.
    writes = Batch()
    writes.insert(task)
    writes.insert(entry)
    writes.send()
    if locked is not None:  # to a new random place in the sampled read's order (as grove_claim)
        ReadyWork.objects.filter(id=locked.id).update(draw=Random())
    journal.logged("task_created", task.message_tree_id, task.parent_message_id, claim.user.id)
    return task


def _payload(
    chosen: ChosenTask, row: ReadyWork | work_queries.WorkRow | None, claim: _ClaimFor
) -> dict:
    """What the task stores for its wire rendering and its answer's checks."""
    target = chosen.target
    payload: dict = {"kind": chosen.kind.value}
    if isinstance(target, ExtendibleParent):
        payload["parent_id"] = str(target.message_id)
    elif isinstance(target, ReviewCandidate):
        spec = policy.label_task_mode(
            target.role, target.depth, claim.config, claim.rng, explicit_request=claim.explicit
        )
        payload.update(
            message_id=str(target.message_id),
            mode=spec.mode,
            disposition=spec.disposition,
            valid_labels=list(spec.valid_labels),
            mandatory_labels=list(spec.mandatory_labels),
        )
    elif isinstance(target, RankingCandidate):
        reply_ids = list(row.child_ids)
        claim.rng.shuffle(reply_ids)  # offered in random order, so position carries no bias
        payload.update(parent_id=str(target.parent_id), reply_ids=reply_ids)
    return payload
