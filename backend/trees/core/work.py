"""The work on offer to one user now: leases, the user's history, the candidates. Pure Python.

A task request offers each piece of ready work (``shape.ready_work``) while it has a slot
that no live lease holds, and only to a user the per-user rules let do it (``policy.may_*``).
This module states the lease rules over plain task records and builds, from the trees and
the tasks, the candidates and the user's activity the policy reads. The task request applies
the same rules as one SQL statement over the ready-work index (``work_queries.eligible``);
``tests/db/test_eligible_work_matches_core.py`` checks, on random forests and task
histories, that both offer every user the same work. The simulator runs on this module.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.trees.core.candidates import (
    ExtendibleParent,
    RankingCandidate,
    ReviewCandidate,
    TaskCandidates,
    UserActivity,
)
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.shape import Node, TreeShape, WorkItem, ready_work
from backend.trees.core.task_kinds import LABEL_KINDS, REPLY_KINDS, TaskKind


@dataclass(frozen=True)
class TaskRecord:
    """A task handed out, as the lease and exclusion rules see it.

    ``node_id``/``tree_id``: the node it works on (None for an initial prompt).
    ``lease_until``: until when it holds its slot (``lease_when_handed_out``, then its
    ``expiry_date`` once acked). ``expired``: closed by the expiry sweep, or returned to the
    pool by push dispatch; neither is a skip by the user (``skipped`` is then also true).
    """

    user_id: Hashable
    kind: TaskKind
    node_id: Hashable | None
    tree_id: Hashable | None
    created_at: datetime
    expiry_date: datetime | None
    lease_until: datetime | None
    done: bool = False
    skipped: bool = False
    expired: bool = False

    def is_open(self, now: datetime) -> bool:
        """Neither answered nor skipped, and still valid."""
        return (
            not self.done
            and not self.skipped
            and self.expiry_date is not None
            and self.expiry_date > now
        )

    def holds_lease(self, now: datetime) -> bool:
        """Keeps others off its slot. A lease never outlives the task's validity."""
        return (
            not self.done
            and not self.skipped
            and self.lease_until is not None
            and self.lease_until > now
        )

    def is_pending(self, now: datetime, config: TreeManagerConfig) -> bool:
        """Counts towards ``max_pending_tasks_per_user``: open and handed out within
        ``recent_tasks_span_sec`` (OA)."""
        return self.is_open(now) and self.created_at >= recent_since(now, config)

    @property
    def skipped_by_user(self) -> bool:
        return self.skipped and not self.expired


def recent_since(now: datetime, config: TreeManagerConfig) -> datetime:
    """The start of the ``recent_tasks_span_sec`` window that ends ``now``."""
    return now - timedelta(seconds=config.recent_tasks_span_sec)


def lease_when_handed_out(
    created_at: datetime, expiry_date: datetime, config: TreeManagerConfig
) -> datetime:
    """A new task holds its slot for ``recent_tasks_span_sec``, never past its validity; an
    ack extends the lease to ``expiry_date`` (R2)."""
    return min(expiry_date, created_at + timedelta(seconds=config.recent_tasks_span_sec))


# --- the user ------------------------------------------------------------------------------


def user_activity(
    user_id: Hashable,
    tasks: Iterable[TaskRecord],
    *,
    labelled: Iterable[Hashable] = (),
    ranked: Iterable[Hashable] = (),
    now: datetime,
    config: TreeManagerConfig,
) -> UserActivity:
    """What the exclusion rules read about ``user_id``, from the tasks (anyone's: only the
    user's are read), the messages the user reviewed through a label task and the parents
    the user ranked."""
    mine = [task for task in tasks if task.user_id == user_id]
    since = recent_since(now, config)
    return UserActivity(
        user_id=user_id,
        pending_tasks=sum(1 for task in mine if task.is_pending(now, config)),
        labelled_message_ids=frozenset(labelled),
        ranked_parent_ids=frozenset(ranked),
        handled_work=frozenset(
            (task.node_id, task.kind)
            for task in mine
            if task.node_id is not None and (task.created_at >= since or task.holds_lease(now))
        ),
        skipped_work=frozenset(
            (task.node_id, task.kind)
            for task in mine
            if task.node_id is not None and task.skipped_by_user
        ),
    )


# --- the work ------------------------------------------------------------------------------


def task_candidates(
    trees: Iterable[TreeShape],
    tasks: Iterable[TaskRecord],
    *,
    missing_prompts: int,
    now: datetime,
    config: TreeManagerConfig,
) -> TaskCandidates:
    """Everything the trees offer now, before per-user exclusions: one candidate per
    ``shape.ready_work`` item, with its free slots (the item's slots less the live leases of
    tasks of its kind on its node; a reply's also no more than the tree's room less the
    tree's live reply leases). Candidates without a free slot are kept: ``policy.may_*``
    refuses them."""
    leasing = [task for task in tasks if task.holds_lease(now)]
    on_node = Counter((task.node_id, task.kind) for task in leasing)
    in_tree = Counter(task.tree_id for task in leasing if task.kind in REPLY_KINDS)
    prompts: list[ReviewCandidate] = []
    replies: list[ReviewCandidate] = []
    parents: list[ExtendibleParent] = []
    rankings: list[RankingCandidate] = []
    for tree in trees:
        nodes = {node.id: node for node in tree.nodes}
        for item in ready_work(tree, config):
            free = item.slots - on_node[(item.node_id, item.kind)]
            if item.kind in REPLY_KINDS:
                free = min(free, (item.tree_room or 0) - in_tree[tree.tree_id])
            node = nodes[item.node_id]
            authors = frozenset(kid.author_id for kid in tree.live_children(node.id))
            if item.kind in LABEL_KINDS:
                review = dataclasses.replace(_review(node, tree, free), weight=item.weight)
                (prompts if node.depth == 0 else replies).append(review)
            elif item.kind in REPLY_KINDS:
                parents.append(_parent(node, tree, item, authors, free))
            else:
                rankings.append(_ranking(node, tree, item, nodes, authors, free))
    return TaskCandidates(
        missing_prompts=missing_prompts,
        prompts_need_review=tuple(prompts),
        replies_need_review=tuple(replies),
        extendible_parents=tuple(parents),
        incomplete_rankings=tuple(rankings),
    )


def _review(node: Node, tree: TreeShape, free: int) -> ReviewCandidate:
    return ReviewCandidate(
        message_id=node.id,
        tree_id=tree.tree_id,
        role=node.role,
        depth=node.depth,
        author_id=node.author_id,
        review_count=node.review_count,
        free_slots=free,
    )


def _parent(
    node: Node, tree: TreeShape, item: WorkItem, authors: frozenset[Hashable], free: int
) -> ExtendibleParent:
    return ExtendibleParent(
        message_id=node.id,
        tree_id=tree.tree_id,
        role=node.role,
        author_id=node.author_id,
        active_children_count=item.child_count,
        child_author_ids=authors,
        free_slots=free,
    )


def _ranking(
    node: Node,
    tree: TreeShape,
    item: WorkItem,
    nodes: dict[Hashable, Node],
    authors: frozenset[Hashable],
    free: int,
) -> RankingCandidate:
    return RankingCandidate(
        parent_id=node.id,
        tree_id=tree.tree_id,
        role_of_children=nodes[item.child_ids[0]].role,
        child_ids=item.child_ids,
        child_author_ids=authors,
        free_slots=free,
        weight=item.weight,
    )
