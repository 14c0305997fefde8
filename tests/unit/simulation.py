"""An in-memory world of trees and simulated users that runs the pure core end to end.

Test support, not product code: it plays the part the selectors and services play in
production. It keeps messages as plain records, snapshots each tree as the core's
``TreeShape`` and asks ``shape.ready_work`` what the tree offers (tree size, extendible
parents, review and ranking needs are the core's rules, never re-derived here), turns those
work items into the policy's candidates, asks ``policy.choose_task`` what a user should do,
lets the simulated user do it, and applies ``consensus`` and ``lifecycle`` (through
``shape.summarize``) to the result. Every task handed out is kept as the core's
``TaskRecord``: the candidates, their leases and each user's exclusions come from
``core.work``, the rules the task request's SQL applies. Everything random comes from one seeded
``random.Random``; ``repr(world)`` rebuilds the same world.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from backend.trees.core import consensus, lifecycle, policy, work
from backend.trees.core.candidates import (
    ChosenTask,
    ExtendibleParent,
    LotteryCandidate,
    NoTaskAvailable,
    RankingCandidate,
    ReviewCandidate,
    TaskCandidates,
    UserActivity,
)
from backend.trees.core.config import DEFAULT_CONFIG, TreeManagerConfig
from backend.trees.core.lifecycle import TreeState, TreeSummary
from backend.trees.core.shape import Node, TreeShape, summarize
from backend.trees.core.task_kinds import Role, TaskKind

LANG = "en"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TASK_EXPIRY_SECONDS = 2 * 60 * 60  # Grove's default task validity


@dataclass
class SimMessage:
    id: int
    tree_id: int
    parent_id: int | None
    role: Role
    depth: int
    author: int
    is_spam: bool
    true_quality: float
    reviews: list[dict[str, float]] = field(default_factory=list)
    reviewers: list[int] = field(default_factory=list)
    review_result: bool | None = None
    ranking_count: int = 0
    rank: int | None = None


@dataclass
class SimTree:
    id: int
    goal_tree_size: int
    state: TreeState = TreeState.INITIAL_PROMPT_REVIEW
    rankings: dict[int, list[list[int]]] = field(default_factory=dict)
    history: list[TreeState] = field(default_factory=lambda: [TreeState.INITIAL_PROMPT_REVIEW])


@dataclass(frozen=True)
class SimUser:
    id: int
    spam_rate: float  # probability that a text this user writes is spam
    label_noise: float  # probability that this user's spam verdict is wrong


@dataclass(frozen=True)
class Event:
    """One step of the log: who got which task on which node (None: nothing was handed out),
    and the state of that node's tree when the task was handed out."""

    step: int
    user: int
    kind: TaskKind | None
    node_id: int | None
    completed: bool
    tree_state: TreeState | None = None


class World:
    """A single-language world. ``max_prompts`` bounds how many trees users may start."""

    def __init__(
        self,
        config: TreeManagerConfig = DEFAULT_CONFIG,
        *,
        seed: int = 0,
        num_users: int = 12,
        max_prompts: int = 5,
        spam_rate: float = 0.1,
        label_noise: float = 0.05,
        abandon_rate: float = 0.05,
        seconds_per_step: int = 10,
    ):
        self.config = config
        self.params = {
            "seed": seed,
            "num_users": num_users,
            "max_prompts": max_prompts,
            "spam_rate": spam_rate,
            "label_noise": label_noise,
            "abandon_rate": abandon_rate,
            "seconds_per_step": seconds_per_step,
        }
        self.rng = random.Random(seed)
        self.users = [
            SimUser(i, spam_rate=spam_rate * self.rng.random() * 2, label_noise=label_noise)
            for i in range(num_users)
        ]
        self.max_prompts = max_prompts
        self.abandon_rate = abandon_rate
        self.seconds_per_step = seconds_per_step
        self.messages: dict[int, SimMessage] = {}
        self._by_tree: dict[int, list[SimMessage]] = defaultdict(list)
        self.trees: dict[int, SimTree] = {}
        self.tasks: list[work.TaskRecord] = []  # those the rules may still read
        self.labelled: dict[int, set[int]] = {u.id: set() for u in self.users}
        self.ranked: dict[int, set[int]] = {u.id: set() for u in self.users}
        self.events: list[Event] = []
        self.now = 0
        self._next_id = 1

    def __repr__(self) -> str:
        changed = {
            k: v for k, v in self.config.to_dict().items() if v != DEFAULT_CONFIG.to_dict()[k]
        }
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"World(TreeManagerConfig.from_dict({changed!r}), {params})"

    # --- running ---------------------------------------------------------------------------

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()

    def run_until_settled(self, max_steps: int = 20_000) -> bool:
        """Step until every prompt was written and every tree is finished; False on timeout."""
        for _ in range(max_steps):
            if self.is_settled():
                return True
            self.step()
        return self.is_settled()

    def is_settled(self) -> bool:
        return len(self.trees) >= self.max_prompts and all(
            lifecycle.is_finished(t.state) for t in self.trees.values()
        )

    def step(self) -> Event:
        """One user asks for a random task and (usually) completes it."""
        self.now += self.seconds_per_step
        self._expire_pending()
        self._prompt_lottery(max_activate=2)
        user = self.rng.choice(self.users)
        try:
            chosen = policy.choose_task(
                TaskKind.RANDOM, self._candidates(), self._activity(user), self.config, self.rng
            )
        except NoTaskAvailable:
            return self._log(Event(len(self.events), user.id, None, None, completed=False))
        node_id = _node_of(chosen)
        state = tree_id = None
        if node_id is not None:
            tree_id = self.messages[node_id].tree_id
            state = self.trees[tree_id].state
        handed_out = Event(len(self.events), user.id, chosen.kind, node_id, False, state)
        abandoned = self.rng.random() < self.abandon_rate
        self.tasks.append(self._task(user, chosen.kind, node_id, tree_id, done=not abandoned))
        if abandoned:  # never acked: its lease ends after recent_tasks_span_sec
            return self._log(handed_out)
        self._perform(user, chosen)
        return self._log(dataclasses.replace(handed_out, completed=True))

    @property
    def clock(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)

    def _task(
        self, user: SimUser, kind: TaskKind, node_id: int | None, tree_id: int | None, done: bool
    ) -> work.TaskRecord:
        expiry = self.clock + timedelta(seconds=TASK_EXPIRY_SECONDS)
        return work.TaskRecord(
            user_id=user.id,
            kind=kind,
            node_id=node_id,
            tree_id=tree_id,
            created_at=self.clock,
            expiry_date=expiry,
            lease_until=work.lease_when_handed_out(self.clock, expiry, self.config),
            done=done,
        )

    def _log(self, event: Event) -> Event:
        self.events.append(event)
        return event

    def _expire_pending(self) -> None:
        """Forget the tasks no rule reads any more (no simulated user skips)."""
        since = work.recent_since(self.clock, self.config)
        self.tasks = [
            t
            for t in self.tasks
            if t.created_at >= since or t.is_open(self.clock) or t.holds_lease(self.clock)
        ]

    # --- what the persistence layer would query --------------------------------------------

    def _activity(self, user: SimUser) -> UserActivity:
        return work.user_activity(
            user.id,
            self.tasks,
            labelled=self.labelled[user.id],
            ranked=self.ranked[user.id],
            now=self.clock,
            config=self.config,
        )

    def shape(self, tree: SimTree) -> TreeShape:
        """The tree as the core's rules see it (what a selector builds from rows)."""
        return TreeShape(
            tree_id=tree.id,
            state=tree.state,
            goal_tree_size=tree.goal_tree_size,
            nodes=tuple(
                Node(
                    id=m.id,
                    parent_id=m.parent_id,
                    depth=m.depth,
                    role=m.role,
                    author_id=m.author,
                    review_result=m.review_result,
                    review_count=len(m.reviews),
                    mean_quality=consensus.mean_quality(m.reviews),
                )
                for m in self.tree_messages(tree)
            ),
            rankings_done={parent: len(done) for parent, done in tree.rankings.items()},
            lang=LANG,
        )

    def _candidates(self) -> TaskCandidates:
        """The policy's candidates, one per work item the core's ``ready_work`` offers."""
        counts = Counter(t.state for t in self.trees.values())
        missing = policy.count_missing_prompts(
            self.config,
            lang=LANG,
            growing=counts[TreeState.GROWING],
            initial_prompt_review=counts[TreeState.INITIAL_PROMPT_REVIEW],
            prompt_lottery_waiting=counts[TreeState.PROMPT_LOTTERY_WAITING],
        )
        return work.task_candidates(
            (self.shape(tree) for tree in self.trees.values()),
            self.tasks,
            missing_prompts=min(missing, self.max_prompts - len(self.trees)),
            now=self.clock,
            config=self.config,
        )

    def tree_messages(self, tree: SimTree) -> list[SimMessage]:
        return self._by_tree[tree.id]

    def children(self, message: SimMessage) -> list[SimMessage]:
        """Every reply to ``message``, rejected ones included."""
        return [m for m in self._by_tree[message.tree_id] if m.parent_id == message.id]

    # --- what simulated users do -----------------------------------------------------------

    def _perform(self, user: SimUser, chosen: ChosenTask) -> None:
        target = chosen.target
        if chosen.kind is TaskKind.INITIAL_PROMPT:
            self._write_prompt(user)
        elif isinstance(target, ReviewCandidate):
            self._review(user, self.messages[target.message_id])
        elif isinstance(target, ExtendibleParent):
            self._reply(user, self.messages[target.message_id], chosen.kind)
        elif isinstance(target, RankingCandidate):
            self._rank(user, target)

    def _new_message(
        self, user: SimUser, tree_id: int, parent: SimMessage | None, role: Role
    ) -> SimMessage:
        spam = self.rng.random() < user.spam_rate
        quality = self.rng.uniform(0.0, 0.3) if spam else self.rng.uniform(0.3, 1.0)
        message = SimMessage(
            id=self._next_id,
            tree_id=tree_id,
            parent_id=parent.id if parent else None,
            role=role,
            depth=parent.depth + 1 if parent else 0,
            author=user.id,
            is_spam=spam,
            true_quality=quality,
        )
        self._next_id += 1
        self.messages[message.id] = message
        self._by_tree[tree_id].append(message)
        return message

    def _write_prompt(self, user: SimUser) -> None:
        tree_id = self._next_id
        goal = policy.goal_tree_size_for_new_tree(self.config, self.rng)
        self.trees[tree_id] = SimTree(tree_id, goal)
        self._new_message(user, tree_id, None, Role.PROMPTER)

    def _reply(self, user: SimUser, parent: SimMessage, kind: TaskKind) -> None:
        role = Role.ASSISTANT if kind is TaskKind.ASSISTANT_REPLY else Role.PROMPTER
        self._new_message(user, parent.tree_id, parent, role)
        self._advance(self.trees[parent.tree_id])

    def _review(self, user: SimUser, message: SimMessage) -> None:
        spec = policy.label_task_mode(message.role, message.depth, self.config, self.rng)
        says_spam = message.is_spam != (self.rng.random() < user.label_noise)
        labels = {"spam": float(says_spam)}
        if "lang_mismatch" in spec.valid_labels:
            labels["lang_mismatch"] = 0.0
        if "quality" in spec.valid_labels:
            noisy = message.true_quality + self.rng.uniform(-0.1, 0.1)
            labels["quality"] = min(1.0, max(0.0, noisy))
        message.reviews.append(labels)
        message.reviewers.append(user.id)
        self.labelled[user.id].add(message.id)
        is_prompt = message.parent_id is None
        outcome = consensus.review_outcome(
            message.reviews,
            consensus.required_reviews(is_prompt, self.config),
            consensus.acceptance_threshold(is_prompt, self.config),
        )
        if outcome is not None and message.review_result is None:
            message.review_result = outcome is consensus.ReviewOutcome.ACCEPTED
        self._advance(self.trees[message.tree_id])

    def _rank(self, user: SimUser, candidate: RankingCandidate) -> None:
        kids = [self.messages[i] for i in candidate.child_ids]
        order = sorted(kids, key=lambda m: m.true_quality + self.rng.uniform(-0.2, 0.2))
        ranking = [m.id for m in reversed(order)]
        self.trees[candidate.tree_id].rankings.setdefault(candidate.parent_id, []).append(ranking)
        for kid in kids:
            kid.ranking_count += 1
        self.ranked[user.id].add(candidate.parent_id)
        self._advance(self.trees[candidate.tree_id])

    # --- lifecycle -------------------------------------------------------------------------

    def _prompt_lottery(self, max_activate: int) -> None:
        growing = sum(1 for t in self.trees.values() if t.state is TreeState.GROWING)
        for _ in range(min(max_activate, policy.trees_to_activate(self.config, growing=growing))):
            waiting = [
                LotteryCandidate(t.id, self.messages[t.id].author)
                for t in self.trees.values()
                if t.state is TreeState.PROMPT_LOTTERY_WAITING
            ]
            winner = policy.choose_lottery_winner(waiting, self.rng)
            if winner is None:
                return
            tree = self.trees[winner.tree_id]
            self._enter(tree, TreeState.GROWING)
            self._advance(tree)

    def summary(self, tree: SimTree) -> TreeSummary:
        return summarize(self.shape(tree), self.config)

    def _advance(self, tree: SimTree) -> None:
        """Apply lifecycle decisions until the tree rests (scoring runs inline)."""
        while True:
            if tree.state is TreeState.READY_FOR_SCORING:
                self._score(tree)
                continue
            nxt = lifecycle.next_state(self.summary(tree), self.config)
            if nxt is None:
                return
            self._enter(tree, nxt)

    def _score(self, tree: SimTree) -> None:
        for parent_id, rankings in tree.rankings.items():
            siblings = [m.id for m in self.messages.values() if m.parent_id == parent_id]
            for message_id, rank in consensus.message_ranks(rankings, siblings).items():
                self.messages[message_id].rank = rank
        self._enter(tree, lifecycle.state_after_scoring(succeeded=True))

    def _enter(self, tree: SimTree, state: TreeState) -> None:
        lifecycle.check_transition(tree.state, state)
        tree.state = state
        tree.history.append(state)

    # --- reporting -------------------------------------------------------------------------

    def state_counts(self) -> dict[str, int]:
        return dict(Counter(t.state.value for t in self.trees.values()))

    def task_counts(self) -> dict[str, int]:
        return dict(Counter(e.kind.value for e in self.events if e.kind is not None))


def _node_of(chosen: ChosenTask) -> int | None:
    target = chosen.target
    if isinstance(target, ReviewCandidate | ExtendibleParent):
        return target.message_id  # type: ignore[return-value]
    if isinstance(target, RankingCandidate):
        return target.parent_id  # type: ignore[return-value]
    return None
