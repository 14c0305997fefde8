"""A tree's shape and the work it offers: the one home of Grove's structural tree rules.

Which message is live, how big a tree is, which parent may take another reply and how many,
which message still needs reviews, which parent needs rankings: every such rule is written
here once, over a plain snapshot of one tree (``TreeShape``). The ready-work index, the
lifecycle summary, the policy and the simulator all call these functions instead of
re-deriving counts. Pure Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.lifecycle import TreeState, TreeSummary, is_below
from backend.trees.core.reliability import ReviewerSkill
from backend.trees.core.sequential import (
    ranking_information,
    rankings_needed,
    review_information,
    reviews_needed,
)
from backend.trees.core.task_kinds import Role, TaskKind

# A tree's quality score (``min_tree_quality``) is read only once this many accepted
# replies have a quality label: one or two unlucky replies do not close a tree.
MIN_SCORED_REPLIES = 3


@dataclass(frozen=True)
class Node:
    """One message as the tree rules see it."""

    id: Hashable
    parent_id: Hashable | None
    depth: int
    role: Role
    author_id: Hashable = None
    review_result: bool | None = None
    review_count: int = 0
    deleted: bool = False
    mean_quality: float | None = None
    # What an adaptive decision asked for (core.sequential): reviews of this message,
    # rankings of its replies. None: nothing asked beyond the policy's minimum.
    reviews_asked: int | None = None
    rankings_asked: int | None = None
    # What the last undecided review decision read (P(acceptable)), and the agreement of
    # this parent's rankings when the adaptive policy asked for more: active selection.
    review_posterior: float | None = None
    ranking_agreement: float | None = None

    @property
    def is_live(self) -> bool:
        """Counts towards its parent's children and the tree's size: accepted or in review
        (a rejected or deleted message frees its slot, as in OA)."""
        return not self.deleted and self.review_result is not False

    @property
    def is_accepted(self) -> bool:
        return not self.deleted and self.review_result is True

    @property
    def in_review(self) -> bool:
        return not self.deleted and self.review_result is None


@dataclass(frozen=True)
class TreeShape:
    """One tree: its limits, its messages and the completed rankings per parent.

    ``max_depth`` / ``max_children_count`` are the tree's own limits (OA stores them at
    creation); None means "use the config".
    """

    tree_id: Hashable
    state: TreeState
    goal_tree_size: int
    nodes: tuple[Node, ...] = ()
    rankings_done: Mapping[Hashable, int] = field(default_factory=dict)
    max_depth: int | None = None
    max_children_count: int | None = None
    lang: str = "en"

    @cached_property
    def _children(self) -> Mapping[Hashable, tuple[Node, ...]]:
        found: dict[Hashable, list[Node]] = defaultdict(list)
        for node in self.nodes:
            if node.parent_id is not None:
                found[node.parent_id].append(node)
        return {parent: tuple(kids) for parent, kids in found.items()}

    @cached_property
    def _by_id(self) -> Mapping[Hashable, Node]:
        return {node.id: node for node in self.nodes}

    def node(self, node_id: Hashable) -> Node | None:
        return self._by_id.get(node_id)

    def children(self, node_id: Hashable) -> tuple[Node, ...]:
        return self._children.get(node_id, ())

    def live_children(self, node_id: Hashable) -> tuple[Node, ...]:
        return tuple(child for child in self.children(node_id) if child.is_live)

    def accepted_children(self, node_id: Hashable) -> tuple[Node, ...]:
        return tuple(child for child in self.children(node_id) if child.is_accepted)

    @property
    def prompt(self) -> Node | None:
        return next((node for node in self.nodes if node.parent_id is None), None)

    @property
    def size(self) -> int:
        """Live messages: what the goal size counts (OA counts accepted and pending ones)."""
        return sum(1 for node in self.nodes if node.is_live)

    @property
    def accepted_size(self) -> int:
        return sum(1 for node in self.nodes if node.is_accepted)

    @property
    def awaiting_review(self) -> int:
        return sum(1 for node in self.nodes if node.in_review)

    @property
    def reply_quality(self) -> float | None:
        """The tree's quality score: the mean of its accepted replies' mean ``quality`` labels
        (reviews with a task only), None until ``MIN_SCORED_REPLIES`` replies have one."""
        scores = [
            node.mean_quality
            for node in self.nodes
            if node.depth > 0 and node.is_accepted and node.mean_quality is not None
        ]
        return sum(scores) / len(scores) if len(scores) >= MIN_SCORED_REPLIES else None


# --- replies -------------------------------------------------------------------------------


def child_limit(parent: Node, tree: TreeShape, config: TreeManagerConfig) -> int:
    """``max_children_count``; an assistant message takes at most ``num_prompter_replies``."""
    limit = tree.max_children_count
    if limit is None:
        limit = config.max_children_count
    if parent.role is Role.ASSISTANT:
        limit = min(limit, config.num_prompter_replies)
    return limit


def reply_room(parent: Node, tree: TreeShape, config: TreeManagerConfig) -> int:
    """How many more replies ``parent`` may take, ignoring the tree's goal and open tasks.

    Only accepted messages are answered; never below ``max_tree_depth``; Grove's
    ``min_reply_quality_for_extension`` (when set) closes replies whose mean quality is below.
    """
    max_depth = tree.max_depth if tree.max_depth is not None else config.max_tree_depth
    if not parent.is_accepted or parent.depth >= max_depth:
        return 0
    if parent.depth > 0 and is_below(parent.mean_quality, config.min_reply_quality_for_extension):
        return 0
    return max(0, child_limit(parent, tree, config) - len(tree.live_children(parent.id)))


def tree_room(tree: TreeShape) -> int:
    """How many more messages the tree takes before its ``goal_tree_size``."""
    return max(0, tree.goal_tree_size - tree.size)


def has_extendible_parent(tree: TreeShape, config: TreeManagerConfig) -> bool:
    """Could anyone add a reply anywhere (no per-user exclusion, no open task counted)?"""
    return tree_room(tree) > 0 and any(reply_room(n, tree, config) > 0 for n in tree.nodes)


def reply_kind_for(parent_role: Role) -> TaskKind:
    """Replies alternate roles: an assistant message gets a prompter reply and vice versa."""
    return TaskKind.PROMPTER_REPLY if parent_role is Role.ASSISTANT else TaskKind.ASSISTANT_REPLY


# --- reviews -------------------------------------------------------------------------------


def review_room(node: Node, config: TreeManagerConfig) -> int:
    """Reviews ``node`` still needs before its next decision (``num_reviews_initial_prompt`` /
    ``num_reviews_reply``, or what the sequential policy asks: ``sequential.reviews_needed``)."""
    if not node.in_review:
        return 0
    needed = reviews_needed(node.depth == 0, node.reviews_asked, config)
    return max(0, needed - node.review_count)


def is_review_due(node: Node, config: TreeManagerConfig) -> bool:
    """In review and holding its required reviews: consensus can decide it."""
    return node.in_review and review_room(node, config) == 0


def label_kind_for(node: Node) -> TaskKind:
    if node.depth == 0:
        return TaskKind.LABEL_INITIAL_PROMPT
    if node.role is Role.ASSISTANT:
        return TaskKind.LABEL_ASSISTANT_REPLY
    return TaskKind.LABEL_PROMPTER_REPLY


# --- rankings ------------------------------------------------------------------------------


def rankable_parents(
    tree: TreeShape, config: TreeManagerConfig
) -> dict[Hashable, tuple[Node, ...]]:
    """Parents with more than one accepted child of a ranked role (assistant replies always,
    prompter replies only with ``rank_prompter_replies``), with those children by id."""
    found = {}
    for node in tree.nodes:
        if node.deleted:
            continue
        kids = tree.accepted_children(node.id)
        if len(kids) > 1 and (kids[0].role is Role.ASSISTANT or config.rank_prompter_replies):
            found[node.id] = tuple(sorted(kids, key=lambda kid: str(kid.id)))
    return found


def ranking_room(parent_id: Hashable, tree: TreeShape, config: TreeManagerConfig) -> int:
    """Rankings ``parent_id`` still needs (``num_required_rankings``, or what the adaptive
    policy asks: ``sequential.rankings_needed``)."""
    parent = tree.node(parent_id)
    needed = rankings_needed(parent.rankings_asked if parent else None, config)
    return max(0, needed - tree.rankings_done.get(parent_id, 0))


def rank_kind_for(role_of_children: Role) -> TaskKind:
    if role_of_children is Role.ASSISTANT:
        return TaskKind.RANK_ASSISTANT_REPLIES
    return TaskKind.RANK_PROMPTER_REPLIES


# --- the work a tree offers ----------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    """Work one node offers now: ``slots`` people may be handed ``kind`` on it.

    ``slots`` ignores open tasks (the claim subtracts their leases). For replies,
    ``tree_room`` bounds the replies claimable across the whole tree (the goal size).
    ``author_id`` is the node's author (never reviews or answers themselves);
    ``child_ids`` are the replies a ranking orders; ``child_count`` its live children (the
    lonely-child preference). ``weight``: the expected information of the next review or
    ranking (``selection_weight``; 1 for replies), read by the active selection policy.
    ``reviews``: a message's reviews so far (first-review routing,
    ``policy.routed_reviews``; 0 for other kinds).
    """

    kind: TaskKind
    node_id: Hashable
    slots: int
    author_id: Hashable = None
    tree_room: int | None = None
    child_count: int = 0
    child_ids: tuple[Hashable, ...] = ()
    weight: float = 1.0
    reviews: int = 0


def ready_work(tree: TreeShape, config: TreeManagerConfig) -> list[WorkItem]:
    """Everything that can be handed out on ``tree`` now, before per-user exclusions."""
    items: list[WorkItem] = []
    if tree.state is TreeState.INITIAL_PROMPT_REVIEW:
        prompt = tree.prompt
        if prompt is not None and review_room(prompt, config) > 0:
            items.append(_review_item(prompt, config))
    elif tree.state is TreeState.GROWING:
        room = tree_room(tree)
        for node in tree.nodes:
            if node.depth > 0 and review_room(node, config) > 0:
                items.append(_review_item(node, config))
            slots = reply_room(node, tree, config) if room > 0 else 0
            if slots > 0:
                items.append(
                    WorkItem(
                        kind=reply_kind_for(node.role),
                        node_id=node.id,
                        slots=slots,
                        author_id=node.author_id,
                        tree_room=room,
                        child_count=len(tree.live_children(node.id)),
                    )
                )
    elif tree.state is TreeState.RANKING:
        for parent_id, kids in rankable_parents(tree, config).items():
            slots = ranking_room(parent_id, tree, config)
            if slots > 0:
                items.append(
                    WorkItem(
                        kind=rank_kind_for(kids[0].role),
                        node_id=parent_id,
                        slots=slots,
                        child_count=len(kids),
                        child_ids=tuple(kid.id for kid in kids),
                        weight=ranking_weight(tree.node(parent_id)),
                    )
                )
    return items


def _review_item(node: Node, config: TreeManagerConfig) -> WorkItem:
    return WorkItem(
        kind=label_kind_for(node),
        node_id=node.id,
        slots=review_room(node, config),
        author_id=node.author_id,
        weight=review_weight(node, config),
        reviews=node.review_count,
    )


def review_weight(node: Node, config: TreeManagerConfig) -> float:
    """The expected information of ``node``'s next review (``sequential.review_information``)
    at its last undecided posterior, or the config's prior for a message not yet read by a
    decision, with the prior reviewer skill; rounded (a stored weight that did not move
    writes nothing)."""
    p = node.review_posterior
    skill = ReviewerSkill(config.reviewer_prior_sensitivity, config.reviewer_prior_specificity)
    found = review_information(config.review_prior_acceptable if p is None else p, skill)
    return round(found, 4)


def ranking_weight(parent: Node | None) -> float:
    """The expected information of the next ranking of ``parent``'s replies
    (``sequential.ranking_information``), rounded."""
    return round(ranking_information(parent.ranking_agreement if parent else None), 4)


def summarize(tree: TreeShape, config: TreeManagerConfig) -> TreeSummary:
    """The tree as the lifecycle sees it."""
    prompt = tree.prompt
    parents = rankable_parents(tree, config)
    return TreeSummary(
        state=tree.state,
        goal_tree_size=tree.goal_tree_size,
        accepted_size=tree.accepted_size,
        awaiting_review=tree.awaiting_review,
        has_extendible_parent=has_extendible_parent(tree, config),
        prompt_review_result=prompt.review_result if prompt and not prompt.deleted else None,
        prompt_mean_quality=prompt.mean_quality if prompt else None,
        reply_quality=tree.reply_quality,
        rankings_per_parent=tuple(tree.rankings_done.get(parent_id, 0) for parent_id in parents),
        rankings_missing=tuple(ranking_room(parent_id, tree, config) for parent_id in parents),
    )
