"""What the persistence layer hands to the policy, and what the policy hands back.

Small frozen value objects (candidates per task kind, the requesting user's activity, the
decision) and the policy's exceptions. Pure Python: no Django import.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from backend.trees.core.task_kinds import Role, TaskKind


class NoTaskAvailable(LookupError):
    """No task of the requested kind can be handed to this user now (OA
    ``TASK_REQUESTED_TYPE_NOT_AVAILABLE``)."""

    def __init__(
        self,
        kind: TaskKind,
        reason: str = "no task currently available",
        *,
        contended: bool = False,
    ):
        self.kind = kind
        # There was work for the user, but concurrent claims took it first.
        self.contended = contended
        super().__init__(f"{kind.value}: {reason}")


class TooManyPendingTasks(NoTaskAvailable):
    """The user holds ``max_pending_tasks_per_user`` open tasks (OA ``TASK_TOO_MANY_PENDING``)."""


# --- what the persistence layer hands in ---------------------------------------------------


# A node and a task kind on it: what a skip or a recent task of one user hides (R4: a skip
# hides the node for that kind only; the initial-prompt work has no node).
WorkKey = tuple[Hashable, TaskKind]


@dataclass(frozen=True)
class UserActivity:
    """What the requesting user has done; drives the exclusion rules (``policy.may_*``).

    ``pending_tasks``: open tasks handed out within ``recent_tasks_span_sec``
    (``max_pending_tasks_per_user`` caps them). ``labelled_message_ids``: messages the user
    reviewed through a label task (a free report does not count). ``ranked_parent_ids``:
    parents whose replies the user ranked. ``handled_work``: (node, kind) the user was handed
    within ``recent_tasks_span_sec``, whatever became of the task, or whose task still holds
    its slot (acked: until it expires), so one user never holds two tasks on one node.
    ``skipped_work``: (node,
    kind) the user skipped, at any time (a task closed by the expiry sweep is no skip).
    ``core.work.user_activity`` builds it from the user's tasks.
    """

    user_id: Hashable
    pending_tasks: int = 0
    labelled_message_ids: frozenset[Hashable] = frozenset()
    ranked_parent_ids: frozenset[Hashable] = frozenset()
    handled_work: frozenset[WorkKey] = frozenset()
    skipped_work: frozenset[WorkKey] = frozenset()

    def excludes(self, node_id: Hashable, kind: TaskKind) -> bool:
        """The user was handed ``kind`` on this node recently, still holds it, or skipped it."""
        return (node_id, kind) in self.handled_work or (node_id, kind) in self.skipped_work


@dataclass(frozen=True)
class ReviewCandidate:
    """A message still collecting reviews (prompt in review, or reply of a growing tree).

    ``free_slots``: reviews it still needs less the live leases of its label tasks
    (``core.work.task_candidates``); none left, nobody else is handed it now.
    """

    message_id: Hashable
    tree_id: Hashable
    role: Role
    depth: int
    author_id: Hashable
    created_at: datetime | float | None = None
    review_count: int = 0
    free_slots: int = 1
    weight: float = 1.0  # expected information of its next review (``shape.review_weight``)

    @property
    def is_prompt(self) -> bool:
        return self.depth == 0


@dataclass(frozen=True)
class ExtendibleParent:
    """An accepted message that may take another reply (``core.shape.ready_work`` decided
    the structure: depth, children, goal size, quality gate).

    ``active_children_count`` counts its live children (accepted or in review; the
    lonely-child preference reads it). ``child_author_ids`` are those children's authors: a
    user whose reply was rejected may answer the same parent again. ``free_slots``: replies it
    may still take less the live leases of its reply tasks, and no more than the tree's room
    left by the tree's live reply leases (the goal size counts claimed replies).
    """

    message_id: Hashable
    tree_id: Hashable
    role: Role
    author_id: Hashable
    active_children_count: int = 0
    child_author_ids: frozenset[Hashable] = frozenset()
    free_slots: int = 1


@dataclass(frozen=True)
class RankingCandidate:
    """A parent, in a tree in ranking state, whose accepted children need more rankings.

    ``child_ids``: the accepted children a ranking orders. ``child_author_ids``: the authors
    of all its live children (accepted or in review), none of whom ranks them.
    ``free_slots``: rankings it still needs less the live leases of its ranking tasks.
    """

    parent_id: Hashable
    tree_id: Hashable
    role_of_children: Role
    child_ids: tuple[Hashable, ...]
    child_author_ids: frozenset[Hashable] = frozenset()
    free_slots: int = 1
    weight: float = 1.0  # expected information of its next ranking (``shape.ranking_weight``)


@dataclass(frozen=True)
class TaskCandidates:
    """Everything that could be handed out in one language, before per-user exclusions."""

    missing_prompts: int = 0
    prompts_need_review: tuple[ReviewCandidate, ...] = ()
    replies_need_review: tuple[ReviewCandidate, ...] = ()
    extendible_parents: tuple[ExtendibleParent, ...] = ()
    incomplete_rankings: tuple[RankingCandidate, ...] = ()


@dataclass(frozen=True)
class Availability:
    """Number of candidate tasks per kind; ``random`` is the sum of all others (as in OA)."""

    counts: Mapping[TaskKind, int] = field(default_factory=dict)

    def count(self, kind: TaskKind) -> int:
        if kind is TaskKind.RANDOM:
            return sum(n for k, n in self.counts.items() if k is not TaskKind.RANDOM)
        return self.counts.get(kind, 0)

    def is_available(self, kind: TaskKind) -> bool:
        return self.count(kind) > 0

    def as_dict(self) -> dict[str, int]:
        """``{kind value: count}`` for every kind, ``random`` included."""
        return {kind.value: self.count(kind) for kind in TaskKind}


@dataclass(frozen=True)
class ChosenTask:
    """A decision: the concrete kind and its target (None for an initial prompt)."""

    kind: TaskKind
    target: ReviewCandidate | ExtendibleParent | RankingCandidate | None = None


class LabelTaskSpec(NamedTuple):
    mode: str  # "simple" (mandatory labels only) or "full"
    valid_labels: tuple[str, ...]
    mandatory_labels: tuple[str, ...]

    @property
    def disposition(self) -> str:
        """OA ``LabelTaskDisposition``: simple tasks check for spam, full ones rate quality."""
        return "spam" if self.mode == "simple" else "quality"


@dataclass(frozen=True)
class LotteryCandidate:
    """A prompt waiting in the lottery, with its author's monthly ``reply_ranked_1`` count."""

    tree_id: Hashable
    author_id: Hashable
    author_reply_ranked_1: int = 0
