"""Simulated volunteers driving the real services (not the pure core) on a database.

Each step picks a volunteer, asks ``request_task`` for work of a random kind, and answers
it: prompts and replies come from ``../shared/data`` (real OA messages), reviews are mostly
positive with some spam votes, rankings are shuffled, and some tasks are skipped. Used by
``bench/simulate.py`` for throughput and by the tests for end-to-end invariants.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.trees.core.policy import NoTaskAvailable, TaskKind
from backend.trees.services.interactions import submit_labels, submit_ranking, submit_text_reply
from backend.trees.services.task_lifecycle import nack_task
from backend.trees.services.tasks import request_task
from backend.trees.services.trees import advance_tree
from bench.texts import TextDeck, realistic_texts


@dataclass
class Volunteers:
    client: ApiClient
    users: list[User]
    rng: random.Random
    spam_rate: float = 0.05
    skip_rate: float = 0.05
    texts: dict[str, list[str]] = field(default_factory=realistic_texts)
    seconds_per_step: float = 20.0
    outcomes: Counter = field(default_factory=Counter)
    now: datetime = field(default_factory=timezone.now)
    _ids: itertools.count = field(default_factory=itertools.count)
    _decks: dict = field(default_factory=dict)

    def step(self, lang: str = "en") -> str:
        """One volunteer does one task; returns what happened."""
        # A simulated clock: recency rules (recent_tasks_span_sec) see realistic gaps.
        self.now += timedelta(seconds=self.seconds_per_step)
        user = self.rng.choice(self.users)
        kind = self.rng.choices(
            [
                TaskKind.RANDOM,
                TaskKind.ASSISTANT_REPLY,
                TaskKind.PROMPTER_REPLY,
                TaskKind.INITIAL_PROMPT,
            ],
            weights=[70, 20, 7, 3],
        )[0]
        try:
            task = request_task(user=user, kind=kind, lang=lang, rng=self.rng, now=self.now)
        except NoTaskAvailable:
            self.outcomes["no_task"] += 1
            return "no_task"
        if self.rng.random() < self.skip_rate:
            nack_task(task_id=task.id, user=user, reason="simulated skip", now=self.now)
            outcome = "skipped"
        else:
            outcome = self._answer(task, user)
        # As in production, reviews, rankings and skips are what move a tree on.
        moves_tree = outcome == "skipped" or outcome.startswith(("label_", "rank_"))
        if task.message_tree_id is not None and moves_tree:
            advance_tree(tree_id=task.message_tree_id, rng=self.rng)
        self.outcomes[outcome] += 1
        return outcome

    def _deck(self, user) -> TextDeck:
        """Each volunteer's own texts, never the same twice (OA's duplicate filter)."""
        if user.id not in self._decks:
            self._decks[user.id] = TextDeck(self.texts, self.rng)
        return self._decks[user.id]

    def _answer(self, task, user) -> str:
        kind = TaskKind(task.payload_type)
        if kind in (TaskKind.INITIAL_PROMPT, TaskKind.PROMPTER_REPLY, TaskKind.ASSISTANT_REPLY):
            role = "assistant" if kind is TaskKind.ASSISTANT_REPLY else "prompter"
            submit_text_reply(
                task_id=task.id,
                user=user,
                text=self._deck(user).next(role),
                frontend_message_id=f"sim-{next(self._ids)}",
                rng=self.rng,
                now=self.now,
            )
            return kind.value
        if kind.value.startswith("label_"):
            spam = 1.0 if self.rng.random() < self.spam_rate else 0.0
            values = {
                "spam": spam,
                "lang_mismatch": 0.0,
                "quality": self.rng.random(),
                "fails_task": 0.0,
                "helpfulness": self.rng.random(),
            }
            labels = {k: v for k, v in values.items() if k in task.payload["valid_labels"]}
            submit_labels(
                task_id=task.id, user=user, message_id=task.payload["message_id"], labels=labels
            )
            return kind.value
        order = list(range(len(task.payload["reply_ids"])))
        self.rng.shuffle(order)
        submit_ranking(task_id=task.id, user=user, ranking=order, now=self.now)
        return kind.value


def make_volunteers(count: int, *, seed: int = 1) -> Volunteers:
    from backend.accounts.services import create_api_client

    client = create_api_client(name=f"simulation-{seed}").client
    users = [
        User.objects.create(
            api_client=client,
            auth_method="local",
            username=f"volunteer-{i}",
            display_name=f"Volunteer {i}",
        )
        for i in range(count)
    ]
    return Volunteers(client=client, users=users, rng=random.Random(seed))
