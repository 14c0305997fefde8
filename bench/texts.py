"""Realistic message texts for the benchmarks and the simulator (no Django import)."""

from __future__ import annotations

import json
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
