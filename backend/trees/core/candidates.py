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

    def __init__(self, kind: TaskKind, reason: str = "no task currently available"):
        self.kind = kind
        super().__init__(f"{kind.value}: {reason}")


class TooManyPendingTasks(NoTaskAvailable):
    """The user holds ``max_pending_tasks_per_user`` open tasks (OA ``TASK_TOO_MANY_PENDING``)."""


# --- what the persistence layer hands in ---------------------------------------------------


@dataclass(frozen=True)
class UserActivity:
    """What the requesting user has done; drives the exclusion rules.

    ``recent_message_ids``: nodes the user was given a task on within ``recent_tasks_span_sec``.
    ``skipped_message_ids``: nodes the user skipped (OA's skip_reply / skip_labeling /
    skip_ranking emojis; each kind only ever applies to nodes of one state, so one set suffices).
    ``pending_tasks``: open tasks created within ``recent_tasks_span_sec``.
    """

    user_id: Hashable
    pending_tasks: int = 0
    labelled_message_ids: frozenset[Hashable] = frozenset()
    ranked_parent_ids: frozenset[Hashable] = frozenset()
    recent_message_ids: frozenset[Hashable] = frozenset()
    skipped_message_ids: frozenset[Hashable] = frozenset()

    def excludes(self, message_id: Hashable) -> bool:
        """The user handled or skipped this node recently."""
        return message_id in self.recent_message_ids or message_id in self.skipped_message_ids


@dataclass(frozen=True)
class ReviewCandidate:
    """A message still collecting reviews (prompt in review, or reply of a growing tree)."""

    message_id: Hashable
    tree_id: Hashable
    role: Role
    depth: int
    author_id: Hashable
    created_at: datetime | float | None = None
    review_count: int = 0

    @property
    def is_prompt(self) -> bool:
        return self.depth == 0


@dataclass(frozen=True)
class ExtendibleParent:
    """An accepted, non-deleted message of a growing tree that might receive a reply.

    ``active_children_count`` counts non-deleted children that are accepted or still under
    review (rejected children free their slot, as in OA). ``tree_size`` counts the accepted root
    plus such children across the tree. ``max_depth``/``max_children_count`` are the tree's own
    limits when it stored them at creation (OA does); None means "use the config".
    ``child_author_ids`` are the authors of those active children only: a user whose reply was
    rejected may answer the same parent again (OA's query joins only active children).
    """

    message_id: Hashable
    tree_id: Hashable
    depth: int
    role: Role
    author_id: Hashable
    active_children_count: int
    tree_size: int
    goal_tree_size: int
    child_author_ids: frozenset[Hashable] = frozenset()
    has_recent_reply_task: bool = False
    mean_quality: float | None = None
    max_depth: int | None = None
    max_children_count: int | None = None


@dataclass(frozen=True)
class RankingCandidate:
    """A parent, in a tree in ranking state, whose accepted children need more rankings."""

    parent_id: Hashable
    tree_id: Hashable
    role_of_children: Role
    child_ids: tuple[Hashable, ...]
    child_author_ids: frozenset[Hashable] = frozenset()
    min_child_ranking_count: int = 0


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
