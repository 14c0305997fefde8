"""Realistic message texts for the benchmarks and the simulator (no Django import).

A volunteer's texts that never repeat are the SDK's ``TextDeck`` (``grove_sdk.answers``, the
one ``grove-volunteer --simulate`` uses): bench may import the SDK, the SDK never imports bench.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "sdk") not in sys.path:
    sys.path.insert(0, str(ROOT / "sdk"))  # bench/ runs from a checkout: the SDK beside it

from grove_sdk.answers import OWN_TEXTS, TextDeck, read_texts  # noqa: E402

SEED_MESSAGES = ROOT.parent / "shared" / "data" / "oa_realistic_seed_messages.json"

__all__ = ["SEED_MESSAGES", "TextDeck", "realistic_texts"]


def realistic_texts() -> dict[str, list[str]]:
    """Prompter and assistant texts from the shared OA sample (fallback: the SDK's own few)."""
    try:
        return read_texts(SEED_MESSAGES)
    except OSError:
        return OWN_TEXTS
