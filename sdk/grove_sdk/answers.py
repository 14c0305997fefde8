"""Automatic answers for ``--simulate``: a text, a ranking or labels, as a volunteer would.

Texts come from a sample (OA's seed-message JSON, ``[{"role": ..., "text": ...}]``, or a few
of our own); a volunteer never sends the same text twice (Grove answers a duplicate with OA's
1009). Reviews are mostly clean and good, so that the trees grow rather than being aborted.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from grove_sdk.push import PushedTask

OWN_TEXTS = {
    "prompter": [
        "How do I keep basil alive indoors?",
        "Explain recursion to a child.",
        "What is the difference between weather and climate?",
        "Can you suggest a three-day itinerary for Lisbon?",
    ],
    "assistant": [
        "Give it plenty of light and water it when the soil is dry.",
        "Recursion is when something is defined using a smaller copy of itself.",
        "Weather is what happens on a given day; climate is the pattern over decades.",
        "Day one: Alfama and the castle; day two: Belém; day three: a trip to Sintra.",
    ],
}
BAD_LABELS = frozenset({"spam", "lang_mismatch", "fails_task", "pii", "not_appropriate"})
GOOD_LABELS = frozenset({"quality", "helpfulness", "creativity"})


def read_texts(path: str | Path | None) -> dict[str, list[str]]:
    """Texts per role (``prompter``, ``assistant``) from OA's seed-message JSON, or our own."""
    if path is None:
        return OWN_TEXTS
    texts: dict[str, list[str]] = {"prompter": [], "assistant": []}
    for row in json.loads(Path(path).read_text()):
        texts.setdefault(row["role"], []).append(row["text"])
    return {role: found or OWN_TEXTS[role] for role, found in texts.items()}


class TextDeck:
    """Texts for one volunteer that never repeat (Grove, as OA, answers 1009 to the same text
    from the same user): a shuffled pass through the distinct texts of a role, then further
    passes with the pass number appended, however few texts the sample has. Also the texts
    of ``bench/``'s volunteers."""

    def __init__(self, texts: dict[str, list[str]], rng: random.Random):
        self.texts = texts
        self.rng = rng
        self.decks: dict[str, list[str]] = {}
        self.passes: dict[str, int] = {}

    def next(self, role: str) -> str:
        deck = self.decks.get(role)
        if not deck:
            unique = sorted({text.strip() for text in self.texts[role]})
            deck = self.decks[role] = self.rng.sample(unique, len(unique))
            self.passes[role] = self.passes.get(role, 0) + 1
        text = deck.pop()
        return text if self.passes[role] == 1 else f"{text} ({self.passes[role]})"


class Answerer:
    def __init__(self, texts: dict[str, list[str]], rng: random.Random):
        self.rng = rng
        self.deck = TextDeck(texts, rng)

    def text(self, role: str) -> str:
        """A text this volunteer has not sent yet (``TextDeck``)."""
        return self.deck.next(role)

    def label_value(self, name: str) -> float:
        if name in BAD_LABELS:
            return 1.0 if self.rng.random() < 0.03 else 0.0
        if name in GOOD_LABELS:
            return round(self.rng.uniform(0.4, 1.0), 2)
        return round(self.rng.uniform(0.0, 0.3), 2)

    def answer(self, pushed: PushedTask) -> dict:
        """Answer the task (on the push socket, or over REST); Grove's ``task_done``."""
        task = pushed.task
        kind = pushed.answer_kind
        if kind == "text":
            role = "assistant" if task["type"] == "assistant_reply" else "prompter"
            return pushed.reply(self.text(role))
        if kind == "labels":
            return pushed.label({name: self.label_value(name) for name in task["valid_labels"]})
        order = list(range(len(task["replies"])))
        self.rng.shuffle(order)
        return pushed.rank(order)
