"""Realistic message texts for the benchmarks and the simulator (no Django import)."""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED_MESSAGES = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "oa_realistic_seed_messages.json"
)
FALLBACK_TEXTS = {
    "prompter": ["How do I keep basil alive indoors?", "Explain recursion to a child."],
    "assistant": [
        "Give it plenty of light and water it when the soil is dry.",
        "Recursion is when something is defined using a smaller copy of itself.",
    ],
}


def realistic_texts() -> dict[str, list[str]]:
    """Prompter and assistant texts from the shared OA sample (fallback: a few of our own)."""
    try:
        rows = json.loads(SEED_MESSAGES.read_text())
    except OSError:
        return FALLBACK_TEXTS
    texts: dict[str, list[str]] = {"prompter": [], "assistant": []}
    for row in rows:
        texts.setdefault(row["role"], []).append(row["text"])
    return texts


class TextDeck:
    """Texts for one volunteer that never repeat (OA's duplicate filter answers 1009 to the
    same text from the same user): a shuffled pass through the distinct texts of a role,
    then further passes with the pass number appended, however few texts the sample has."""

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
