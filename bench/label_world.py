"""Volunteers with a hidden truth driving Grove's services, and what Grove made of it.

``LabelWorld`` plays a population of ``bench.truth`` volunteers against a database through
the same functions the REST views call (``request_task``, ``nack_task``, ``submit_text_reply``,
``submit_labels``, ``submit_ranking``), each in its own transaction, on a simulated clock.
It plays the worker too: what the services owe a tree (``PendingAdvance``, the outbox the
advance job reads) is settled by ``advance_tree`` with the run's seeded ``random.Random``, so a
run is reproducible. ``report`` scores the database's decisions against the hidden truth.
Used by ``bench/label_efficiency.py`` (long runs) and the tests (small seeded runs).
"""

from __future__ import annotations

import itertools
import random
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import connection

from backend.accounts.models import User
from backend.trees.core.policy import NoTaskAvailable, TaskKind
from backend.trees.core.task_kinds import LABEL_KINDS, RANK_KINDS
from backend.trees.growth_config import active_config
from backend.trees.models import Message, MessageReaction, MessageTree, PendingAdvance
from backend.trees.services.interactions import submit_labels, submit_ranking, submit_text_reply
from backend.trees.services.reliability import estimate_reviewer_reliability
from backend.trees.services.task_lifecycle import nack_task
from backend.trees.services.tasks import request_task
from backend.trees.services.trees import advance_tree
from bench import truth
from bench.texts import TextDeck, realistic_texts

EXPORTED = "ready_for_export"
ACTION_GROUPS = {"prompt": "texts", "reply": "texts", "review": "reviews", "ranking": "rankings"}


def action_of(kind: TaskKind) -> str:
    if kind is TaskKind.INITIAL_PROMPT:
        return "prompt"
    if kind in LABEL_KINDS:
        return "review"
    if kind in RANK_KINDS:
        return "ranking"
    return "reply"


@dataclass
class Action:
    volunteer: truth.Volunteer
    kind: str  # prompt, reply, review, ranking, skip
    tree_id: uuid.UUID | None
    correct: bool | None = None  # a review's spam verdict against the truth
    tau: float | None = None  # a ranking's Kendall tau against the hidden order


@dataclass
class LabelWorld:
    volunteers: dict[uuid.UUID, truth.Volunteer]
    users: list[User]
    rng: random.Random
    ranking_model: truth.RankingModel = truth.RankingModel.THURSTONE
    seconds_per_step: float = 10.0
    # Steps between two runs of the reviewer-reliability job: 600 simulated seconds, beat's
    # GROVE_RELIABILITY_INTERVAL_SECONDS.
    reliability_every: int = 60
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    truths: dict[uuid.UUID, truth.MessageTruth] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    created_at: dict[uuid.UUID, datetime] = field(default_factory=dict)
    exported_at: dict[uuid.UUID, datetime] = field(default_factory=dict)
    no_task: int = 0
    steps: int = 0
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _decks: dict[uuid.UUID, TextDeck] = field(default_factory=dict)
    _texts: dict[str, list[str]] = field(default_factory=realistic_texts)

    def step(self) -> None:
        """One volunteer asks for a task of Grove's choice and answers (or skips) it."""
        self.steps += 1
        self.now += timedelta(seconds=self.seconds_per_step)
        user = self.rng.choice(self.users)
        volunteer = self.volunteers[user.id]
        try:
            task = request_task(
                user=user, kind=TaskKind.RANDOM, lang="en", rng=self.rng, now=self.now
            )
        except NoTaskAvailable:
            self.no_task += 1
            return
        if self.rng.random() < volunteer.skip_rate:
            nack_task(task_id=task.id, user=user, reason="simulated skip", now=self.now)
            self.actions.append(Action(volunteer, "skip", task.message_tree_id))
        else:
            self.actions.append(self._answer(task, user, volunteer))
        self.settle()
        if self.steps % self.reliability_every == 0 and _weights_reviews():
            estimate_reviewer_reliability(now=self.now)

    def settle(self) -> None:
        """Run what the services owe (the advance job's work) with the seeded rng."""
        for tree_id in sorted(set(PendingAdvance.objects.values_list("tree_id", flat=True))):
            entered = advance_tree(tree_id=tree_id, rng=self.rng)
            if EXPORTED in entered:
                self.exported_at[tree_id] = self.now

    def run(self, *, trees: int, max_steps: int, progress: Any = None) -> None:
        """Step until ``trees`` trees are exported or ``max_steps`` steps were taken."""
        while len(self.exported_at) < trees and self.steps < max_steps:
            self.step()
            if progress is not None:
                progress(self)

    def _answer(self, task, user: User, volunteer: truth.Volunteer) -> Action:
        kind = TaskKind(task.payload_type)
        action = action_of(kind)
        if action in ("prompt", "reply"):
            role = "assistant" if kind is TaskKind.ASSISTANT_REPLY else "prompter"
            message = submit_text_reply(
                task_id=task.id,
                user=user,
                text=self._deck(user).next(role),
                frontend_message_id=f"truth-{next(self._ids)}",
                rng=self.rng,
                now=self.now,
            )
            self.truths[message.id] = truth.draw_message(volunteer, self.rng)
            if action == "prompt":
                self.created_at[message.message_tree_id] = self.now
            return Action(volunteer, action, message.message_tree_id)
        if action == "review":
            message_id = uuid.UUID(task.payload["message_id"])
            hidden = self.truths[message_id]
            labels = truth.review_labels(volunteer, hidden, task.payload["valid_labels"], self.rng)
            submit_labels(
                task_id=task.id, user=user, message_id=message_id, labels=labels, now=self.now
            )
            correct = (labels.get("spam", 0.0) >= 0.5) == hidden.is_spam
            return Action(volunteer, "review", task.message_tree_id, correct=correct)
        reply_ids = [uuid.UUID(i) for i in task.payload["reply_ids"]]
        qualities = [self.truths[i].quality for i in reply_ids]
        order = truth.rank(volunteer, qualities, self.ranking_model, self.rng)
        submit_ranking(task_id=task.id, user=user, ranking=order, now=self.now)
        tau = truth.kendall_tau(order, qualities)
        return Action(volunteer, "ranking", task.message_tree_id, tau=tau)

    def _deck(self, user: User) -> TextDeck:
        if user.id not in self._decks:
            self._decks[user.id] = TextDeck(self._texts, self.rng)
        return self._decks[user.id]

    # --- scoring against the truth ---------------------------------------------------------

    def report(self) -> dict[str, Any]:
        exported = set(
            MessageTree.objects.filter(state=EXPORTED).values_list("id", flat=True)
        ) & set(self.exported_at)
        n_exported = len(exported)
        by_kind = Counter(a.kind for a in self.actions)
        on_exported = Counter(a.kind for a in self.actions if a.tree_id in exported)
        per_tree = {
            kind: on_exported[kind] / n_exported if n_exported else None
            for kind in ("prompt", "reply", "review", "ranking", "skip")
        }
        answered = sum(n for kind, n in by_kind.items() if kind != "skip")
        return {
            "steps": self.steps,
            "no_task": self.no_task,
            "trees_exported": n_exported,
            "actions": dict(by_kind),
            "actions_per_exported_tree": per_tree,
            "answers_per_exported_tree": _ratio(answered, n_exported),
            "answers_on_exported_trees_per_tree": _ratio(
                sum(n for kind, n in on_exported.items() if kind != "skip"), n_exported
            ),
            "trees_exported_per_1000_answers": _ratio(1000 * n_exported, answered),
            "hours_to_export": self._hours_to_export(exported),
            "review": self._review_accuracy(),
            "review_errors": self._review_errors(),
            "ranking": self._ranking_accuracy(exported),
            "exported_messages": self._exported_messages(exported),
            "by_volunteer_type": self._contributions(),
            "trees_by_state": dict(Counter(MessageTree.objects.values_list("state", flat=True))),
        }

    def _hours_to_export(self, exported: set[uuid.UUID]) -> dict[str, float] | None:
        hours = [
            (self.exported_at[t] - self.created_at[t]).total_seconds() / 3600
            for t in exported
            if t in self.created_at
        ]
        if not hours:
            return None
        return {"median": statistics.median(hours), "mean": statistics.fmean(hours)}

    def _review_accuracy(self) -> dict[str, Any]:
        """Decided messages against the truth: a rejection is a positive (spam caught)."""
        outcome = Counter()
        for message_id, result in Message.objects.filter(
            review_result__isnull=False, id__in=list(self.truths)
        ).values_list("id", "review_result"):
            spam = self.truths[message_id].is_spam
            outcome[(spam, result)] += 1
        good_kept, good_dropped = outcome[(False, True)], outcome[(False, False)]
        spam_rejected, spam_kept = outcome[(True, False)], outcome[(True, True)]
        return {
            "decided": sum(outcome.values()),
            "good_kept": _ratio(good_kept, good_kept + good_dropped),
            "spam_rejected": _ratio(spam_rejected, spam_rejected + spam_kept),
            "rejection_precision": _ratio(spam_rejected, spam_rejected + good_dropped),
            "rejection_recall": _ratio(spam_rejected, spam_rejected + spam_kept),
            "accuracy": _ratio(good_kept + spam_rejected, sum(outcome.values())),
            "counts": {
                "good_kept": good_kept,
                "good_rejected": good_dropped,
                "spam_rejected": spam_rejected,
                "spam_accepted": spam_kept,
            },
        }

    def _exported_messages(self, exported: set[uuid.UUID]) -> dict[str, Any]:
        """What the exported trees hold: accepted messages per tree, answers per accepted
        message, and their hidden quality (mean, share of spam): what a quality gate buys."""
        qualities = [
            self.truths[mid]
            for mid in Message.objects.filter(
                message_tree_id__in=list(exported), review_result=True, deleted=False
            ).values_list("id", flat=True)
            if mid in self.truths
        ]
        answered = sum(1 for a in self.actions if a.kind != "skip" and a.tree_id in exported)
        good = [t.quality for t in qualities if not t.is_spam]
        return {
            "accepted_per_tree": _ratio(len(qualities), len(exported)),
            "answers_per_accepted_message": _ratio(answered, len(qualities)),
            "mean_quality_of_good": statistics.fmean(good) if good else None,
            "spam_share": _ratio(sum(1 for t in qualities if t.is_spam), len(qualities)),
        }

    def _review_errors(self) -> dict[str, Any]:
        """Every wrong decision with the journal's trace (votes, weights, posterior) and the
        hidden traits of its author and reviewers: why a spam message was kept or a good one
        rejected. ``patterns`` counts them by author trait and the reviewers' traits."""
        from backend.trees.models import JournalEntry

        trait_of = {user_id: v.trait.value for user_id, v in self.volunteers.items()}
        authors = dict(
            Message.objects.filter(id__in=list(self.truths)).values_list("id", "user_id")
        )
        errors = []
        for message_id, event, payload in JournalEntry.objects.filter(
            event_type__in=("message_accepted", "message_rejected"),
            message_id__in=list(self.truths),
        ).values_list("message_id", "event_type", "payload"):
            spam = self.truths[message_id].is_spam
            if spam != (event == "message_rejected"):
                errors.append(
                    {
                        "spam": spam,
                        "author": trait_of.get(authors.get(message_id)),
                        "reason": payload.get("reason"),
                        "posterior": payload.get("posterior_acceptable"),
                        "prior": payload.get("prior_acceptable"),
                        "votes": [
                            (trait_of.get(uuid.UUID(v["user_id"])), v["acceptable"], v["weight"])
                            for v in payload.get("votes", [])
                        ],
                    }
                )
        patterns = Counter(
            f"{'spam kept' if e['spam'] else 'good rejected'} | author {e['author']} | "
            + ",".join(f"{t}:{'ok' if a else 'bad'}" for t, a, _w in e["votes"])
            for e in errors
        )
        return {"patterns": dict(patterns.most_common()), "decisions": errors}

    def _ranking_accuracy(self, exported: set[uuid.UUID]) -> dict[str, Any]:
        """Kendall tau of each ranked parent's consensus order (``rank``) against the truth."""
        children: dict[uuid.UUID, list[tuple[int, uuid.UUID]]] = defaultdict(list)
        for parent_id, message_id, rank in Message.objects.filter(
            message_tree_id__in=list(exported), rank__isnull=False
        ).values_list("parent_id", "id", "rank"):
            children[parent_id].append((rank, message_id))
        rankings = Counter(
            MessageReaction.objects.filter(
                message_id__in=list(children), payload_type="RankingReactionPayload"
            ).values_list("message_id", flat=True)
        )
        taus = []
        for kids in children.values():
            ordered = [mid for _rank, mid in sorted(kids)]
            if len(ordered) < 2:
                continue
            qualities = [self.truths[mid].quality for mid in ordered]
            taus.append(truth.kendall_tau(list(range(len(ordered))), qualities))
        return {
            "parents": len(taus),
            "kendall_tau_mean": statistics.fmean(taus) if taus else None,
            "kendall_tau_ci95": _ci95(taus),
            "rankings_per_parent": _ratio(sum(rankings.values()), len(rankings)),
        }

    def _contributions(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for trait in truth.Trait:
            mine = [a for a in self.actions if a.volunteer.trait is trait]
            if not mine:
                continue
            reviews = [a for a in mine if a.correct is not None]
            taus = [a.tau for a in mine if a.tau is not None]
            found[trait.value] = {
                "volunteers": sum(1 for v in self.volunteers.values() if v.trait is trait),
                "actions": dict(Counter(a.kind for a in mine)),
                "review_correct": _ratio(sum(1 for a in reviews if a.correct), len(reviews)),
                "ranking_tau": statistics.fmean(taus) if taus else None,
            }
        return found


def _weights_reviews() -> bool:
    config = active_config()
    return config.review_policy == "sequential" and config.reviewer_reliability


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _ci95(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    return 1.96 * statistics.stdev(values) / len(values) ** 0.5


def make_world(
    population: str,
    *,
    volunteers: int,
    seed: int,
    noise: float = 0.3,
    skip_rate: float = 0.05,
    ranking_model: truth.RankingModel = truth.RankingModel.THURSTONE,
) -> LabelWorld:
    """Users for a population of hidden volunteers (under a new API client)."""
    from backend.accounts.services import create_api_client

    rng = random.Random(seed)
    client = create_api_client(name=f"label-world-{population}-{seed}").client
    hidden = truth.make_population(population, volunteers, rng, noise=noise, skip_rate=skip_rate)
    users = [
        User.objects.create(
            api_client=client,
            auth_method="local",
            username=f"{population}-{v.index}-{v.trait.value}",
            display_name=f"Volunteer {v.index}",
        )
        for v in hidden
    ]
    return LabelWorld(
        volunteers={u.id: v for u, v in zip(users, hidden, strict=True)},
        users=users,
        rng=rng,
        ranking_model=ranking_model,
    )


@contextmanager
def seeded_ids(seed: int) -> Iterator[None]:
    """Every UUID the models and services draw comes from ``seed`` while inside (row ids order
    the candidates and ranked siblings, so a reproducible run needs reproducible ids), and no
    job is sent: ``LabelWorld.settle`` plays the worker.

    So do the ready-work index's random places (``ReadyWork.draw``, PostgreSQL's ``random()``
    on insert and on each claim: seeded with ``setseed`` on this connection) and the point a
    task request starts its read from (the ``random`` module's, reseeded and restored)."""
    import workers.sending

    ids = random.Random(f"ids-{seed}")
    module_state = random.getstate()
    random.seed(f"module-{seed}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [random.Random(f"pg-{seed}").uniform(-1, 1)])

    def seeded() -> uuid.UUID:
        return uuid.UUID(int=ids.getrandbits(128), version=4)

    original = uuid.uuid4
    patched = []
    for model in apps.get_models():
        for f in model._meta.fields:
            if f.default is original:
                patched.append(f)
                f.default = seeded
                f.__dict__.pop("_get_default", None)
    send_job = workers.sending.send_job
    uuid.uuid4 = seeded  # type: ignore[assignment]
    workers.sending.send_job = lambda job, *args: True
    try:
        yield
    finally:
        random.setstate(module_state)
        uuid.uuid4 = original  # type: ignore[assignment]
        workers.sending.send_job = send_job
        for f in patched:
            f.default = original
            f.__dict__.pop("_get_default", None)
